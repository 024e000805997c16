/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_TIMER_H
#define _GUPCHECK_LINUX_TIMER_H
#include <linux/types.h>
#include <linux/jiffies.h>
struct timer_list {
	struct hlist_node entry;
	unsigned long expires;
	void (*function)(struct timer_list *t);
	u32 flags;
};
extern void timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *), unsigned int flags);
extern int mod_timer(struct timer_list *timer, unsigned long expires);
extern void add_timer(struct timer_list *timer);
extern int del_timer(struct timer_list *timer);
extern int del_timer_sync(struct timer_list *timer);
#define from_timer(var, t, field)	container_of(t, __typeof__(*var), field)
#endif
