/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_WORKQUEUE_H
#define _GUPCHECK_LINUX_WORKQUEUE_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/atomic.h>
#include <linux/timer.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);
struct work_struct {
	atomic_long_t data;
	struct list_head entry;
	work_func_t func;
};
struct delayed_work {
	struct work_struct work;
	struct timer_list timer;
	int cpu;
};
struct workqueue_struct;
extern struct workqueue_struct *system_wq;

#define __WORK_INITIALIZER(n, f) \
	{ .data = ATOMIC_LONG_INIT(0), .entry = LIST_HEAD_INIT((n).entry), .func = (f) }
#define DECLARE_WORK(n, f)	struct work_struct n = __WORK_INITIALIZER(n, f)
extern void __init_work(struct work_struct *work, work_func_t func);
#define INIT_WORK(work, fn)	__init_work((work), (fn))
#define INIT_DELAYED_WORK(dwork, fn)	__init_work(&(dwork)->work, (fn))

extern bool schedule_work(struct work_struct *work);
extern bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay);
extern bool queue_work(struct workqueue_struct *wq, struct work_struct *work);
extern bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork, unsigned long delay);
extern bool cancel_work_sync(struct work_struct *work);
extern bool cancel_delayed_work(struct delayed_work *dwork);
extern bool cancel_delayed_work_sync(struct delayed_work *dwork);
extern bool flush_work(struct work_struct *work);
extern void flush_workqueue(struct workqueue_struct *wq);
extern __printf(1, 4) struct workqueue_struct *
alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...);
#define create_singlethread_workqueue(name)	alloc_workqueue("%s", WQ_UNBOUND, 1, (name))
#define create_workqueue(name)			alloc_workqueue("%s", 0, 1, (name))
extern void destroy_workqueue(struct workqueue_struct *wq);
#define WQ_UNBOUND	(1 << 1)
#define WQ_HIGHPRI	(1 << 4)
#define WQ_MEM_RECLAIM	(1 << 3)
#define to_delayed_work(w)	container_of(w, struct delayed_work, work)

#endif
