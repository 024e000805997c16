/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MUTEX_H
#define _GUPCHECK_LINUX_MUTEX_H
#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/list.h>

struct mutex {
	atomic_long_t owner;
	spinlock_t wait_lock;
	struct list_head wait_list;
};

#define __MUTEX_INITIALIZER(name) \
	{ .owner = ATOMIC_LONG_INIT(0), .wait_list = LIST_HEAD_INIT(name.wait_list) }
#define DEFINE_MUTEX(name)	struct mutex name = __MUTEX_INITIALIZER(name)

extern void __mutex_init(struct mutex *lock, const char *name);
#define mutex_init(lock)	__mutex_init((lock), #lock)
extern void mutex_destroy(struct mutex *lock);
extern void mutex_lock(struct mutex *lock);
extern int __must_check mutex_lock_interruptible(struct mutex *lock);
extern int __must_check mutex_lock_killable(struct mutex *lock);
extern int mutex_trylock(struct mutex *lock);
extern void mutex_unlock(struct mutex *lock);
extern bool mutex_is_locked(struct mutex *lock);

#endif
