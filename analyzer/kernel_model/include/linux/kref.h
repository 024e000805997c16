/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_KREF_H
#define _GUPCHECK_LINUX_KREF_H
#include <linux/refcount.h>

struct kref { refcount_t refcount; };
#define KREF_INIT(n)	{ .refcount = REFCOUNT_INIT(n), }

extern void kref_init(struct kref *kref);
extern unsigned int kref_read(const struct kref *kref);
extern void kref_get(struct kref *kref);
/* Calls release() and returns 1 when the count drops to zero. */
extern int kref_put(struct kref *kref, void (*release)(struct kref *kref));
extern int __must_check kref_get_unless_zero(struct kref *kref);

#endif
