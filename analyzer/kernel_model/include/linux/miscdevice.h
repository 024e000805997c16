/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MISCDEVICE_H
#define _GUPCHECK_LINUX_MISCDEVICE_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/major.h>
#include <linux/device.h>

#define MISC_DYNAMIC_MINOR	255

struct file_operations;
struct attribute_group;
struct miscdevice {
	int minor;
	const char *name;
	const struct file_operations *fops;
	struct list_head list;
	struct device *parent;
	struct device *this_device;
	const struct attribute_group **groups;
	const char *nodename;
	umode_t mode;
};

extern int misc_register(struct miscdevice *misc);
extern void misc_deregister(struct miscdevice *misc);

/* Registers the device at load time and removes it at unload. */
#define module_misc_device(__misc)					\
	static int __init __misc##_gc_init(void)			\
	{ return misc_register(&(__misc)); }				\
	module_init(__misc##_gc_init);					\
	static void __exit __misc##_gc_exit(void)			\
	{ misc_deregister(&(__misc)); }					\
	module_exit(__misc##_gc_exit)

#endif
