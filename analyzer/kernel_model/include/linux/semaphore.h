/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SEMAPHORE_H
#define _GUPCHECK_LINUX_SEMAPHORE_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock.h>

/* A counting semaphore: no owner, so it may be held across system calls. */
struct semaphore {
	raw_spinlock_t lock;
	unsigned int count;
	struct list_head wait_list;
};

#define __SEMAPHORE_INITIALIZER(name, n) \
	{ .count = (n), .wait_list = LIST_HEAD_INIT((name).wait_list) }
#define DEFINE_SEMAPHORE(name)	struct semaphore name = __SEMAPHORE_INITIALIZER(name, 1)

extern void sema_init(struct semaphore *sem, int val);
extern void down(struct semaphore *sem);
extern int __must_check down_interruptible(struct semaphore *sem);
extern int __must_check down_killable(struct semaphore *sem);
extern int __must_check down_trylock(struct semaphore *sem);
extern int __must_check down_timeout(struct semaphore *sem, long jiffies);
extern void up(struct semaphore *sem);

#endif
