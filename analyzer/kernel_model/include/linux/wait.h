/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_WAIT_H
#define _GUPCHECK_LINUX_WAIT_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/sched.h>

struct wait_queue_head {
	spinlock_t lock;
	struct list_head head;
};
typedef struct wait_queue_head wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) \
	{ .lock = __SPIN_LOCK_UNLOCKED(name.lock), .head = LIST_HEAD_INIT(name.head) }
#define DECLARE_WAIT_QUEUE_HEAD(name) \
	struct wait_queue_head name = __WAIT_QUEUE_HEAD_INITIALIZER(name)

extern void __init_waitqueue_head(struct wait_queue_head *wq, const char *name);
#define init_waitqueue_head(wq)	__init_waitqueue_head((wq), #wq)
extern void __wake_up(struct wait_queue_head *wq, unsigned int mode, int nr, void *key);
#define wake_up(wq)			__wake_up(wq, TASK_NORMAL, 1, NULL)
#define wake_up_all(wq)			__wake_up(wq, TASK_NORMAL, 0, NULL)
#define wake_up_interruptible(wq)	__wake_up(wq, TASK_INTERRUPTIBLE, 1, NULL)
#define wake_up_interruptible_all(wq)	__wake_up(wq, TASK_INTERRUPTIBLE, 0, NULL)
#define TASK_NORMAL (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)

/* Sleeps once; 0, or -ERESTARTSYS when a signal arrived. */
extern int __gupcheck_wait_once(struct wait_queue_head *wq, unsigned int state);
extern long __gupcheck_wait_once_timeout(struct wait_queue_head *wq, unsigned int state, long timeout);

#define wait_event(wq, cond) do {					\
	while (!(cond))							\
		__gupcheck_wait_once(&(wq), TASK_UNINTERRUPTIBLE);	\
} while (0)
#define wait_event_interruptible(wq, cond) ({				\
	int __gc_ret = 0;						\
	while (!(cond)) {						\
		__gc_ret = __gupcheck_wait_once(&(wq), TASK_INTERRUPTIBLE); \
		if (__gc_ret)						\
			break;						\
	}								\
	__gc_ret; })
#define wait_event_killable(wq, cond)	wait_event_interruptible(wq, cond)
#define wait_event_timeout(wq, cond, timeout) ({			\
	long __gc_left = (timeout);					\
	while (!(cond) && __gc_left > 0)				\
		__gc_left = __gupcheck_wait_once_timeout(&(wq), TASK_UNINTERRUPTIBLE, __gc_left); \
	(cond) && !__gc_left ? 1 : __gc_left; })
#define wait_event_interruptible_timeout(wq, cond, timeout) ({		\
	long __gc_left = (timeout);					\
	while (!(cond) && __gc_left > 0)				\
		__gc_left = __gupcheck_wait_once_timeout(&(wq), TASK_INTERRUPTIBLE, __gc_left); \
	(cond) && !__gc_left ? 1 : __gc_left; })

#endif
