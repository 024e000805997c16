/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_COMPLETION_H
#define _GUPCHECK_LINUX_COMPLETION_H
#include <linux/wait.h>
struct completion { unsigned int done; wait_queue_head_t wait; };
#define DECLARE_COMPLETION(w) \
	struct completion w = { 0, __WAIT_QUEUE_HEAD_INITIALIZER((w).wait) }
extern void init_completion(struct completion *x);
extern void reinit_completion(struct completion *x);
extern void complete(struct completion *x);
extern void complete_all(struct completion *x);
extern void wait_for_completion(struct completion *x);
extern int __must_check wait_for_completion_interruptible(struct completion *x);
extern unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
#endif
