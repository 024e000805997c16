/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_DEVICE_H
#define _GUPCHECK_LINUX_DEVICE_H
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/gfp.h>
#include <linux/printk.h>

struct module;
struct attribute_group;
struct device_driver { const char *name; struct module *owner; };
struct class { const char *name; struct module *owner; };

struct device {
	struct kobject kobj;
	struct device *parent;
	const char *init_name;
	struct device_driver *driver;
	void *driver_data;
	u64 *dma_mask;
	u64 coherent_dma_mask;
	dev_t devt;
	struct class *class;
	const struct attribute_group **groups;
	void (*release)(struct device *dev);
};

static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }
extern const char *dev_name(const struct device *dev);
extern struct device *get_device(struct device *dev);
extern void put_device(struct device *dev);

/* 6.1: class_create() still takes the owner. */
extern struct class *__class_create(struct module *owner, const char *name);
#define class_create(owner, name)	__class_create(owner, name)
extern void class_destroy(struct class *cls);
extern __printf(5, 6) struct device *device_create(struct class *cls, struct device *parent,
						   dev_t devt, void *drvdata, const char *fmt, ...);
extern void device_destroy(struct class *cls, dev_t devt);

extern void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp) __alloc_size(2);
extern void *devm_kzalloc(struct device *dev, size_t size, gfp_t gfp) __alloc_size(2);
extern void devm_kfree(struct device *dev, const void *p);

extern __printf(3, 4) void dev_printk(const char *level, const struct device *dev, const char *fmt, ...);
#define dev_emerg(dev, fmt, ...)	dev_printk(KERN_EMERG, dev, fmt, ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...)		dev_printk(KERN_CRIT, dev, fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...)		dev_printk(KERN_ERR, dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...)		dev_printk(KERN_WARNING, dev, fmt, ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...)	dev_printk(KERN_NOTICE, dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...)		dev_printk(KERN_INFO, dev, fmt, ##__VA_ARGS__)
#define dev_dbg(dev, fmt, ...)		dev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__)
#define dev_err_ratelimited		dev_err
#define dev_warn_ratelimited		dev_warn
#define dev_err_once			dev_err
#define dev_warn_once			dev_warn

#endif
