/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_CDEV_H
#define _GUPCHECK_LINUX_CDEV_H
#include <linux/types.h>
#include <linux/kobject.h>
#include <linux/kdev_t.h>
#include <linux/list.h>
struct file_operations;
struct module;
struct device;
struct cdev {
	struct kobject kobj;
	struct module *owner;
	const struct file_operations *ops;
	struct list_head list;
	dev_t dev;
	unsigned int count;
};
extern void cdev_init(struct cdev *cdev, const struct file_operations *fops);
extern struct cdev *cdev_alloc(void);
extern int cdev_add(struct cdev *p, dev_t dev, unsigned int count);
extern void cdev_del(struct cdev *p);
extern int cdev_device_add(struct cdev *cdev, struct device *dev);
extern void cdev_device_del(struct cdev *cdev, struct device *dev);
#endif
