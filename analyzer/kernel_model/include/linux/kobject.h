/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_KOBJECT_H
#define _GUPCHECK_LINUX_KOBJECT_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/kref.h>
struct kobject {
	const char *name;
	struct list_head entry;
	struct kobject *parent;
	struct kref kref;
};
extern struct kobject *kobject_get(struct kobject *kobj);
extern void kobject_put(struct kobject *kobj);
#endif
