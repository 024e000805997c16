/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_XARRAY_H
#define _GUPCHECK_LINUX_XARRAY_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/spinlock.h>
#include <linux/err.h>

struct xarray {
	spinlock_t xa_lock;
	gfp_t xa_flags;
	void *xa_head;
};
struct xa_limit { u32 max; u32 min; };
#define XA_LIMIT(lo, hi)	(struct xa_limit){ .min = (lo), .max = (hi) }
#define xa_limit_32b		XA_LIMIT(0, UINT_MAX)
#define xa_limit_31b		XA_LIMIT(0, INT_MAX)
#define XA_FLAGS_ALLOC		((gfp_t)0x80000u)
#define XA_FLAGS_ALLOC1		((gfp_t)0x80001u)
#define XARRAY_INIT(name, flags) { .xa_lock = __SPIN_LOCK_UNLOCKED(name.xa_lock), .xa_flags = (flags), .xa_head = NULL }
#define DEFINE_XARRAY_FLAGS(name, flags) struct xarray name = XARRAY_INIT(name, flags)
#define DEFINE_XARRAY(name)		DEFINE_XARRAY_FLAGS(name, 0)
#define DEFINE_XARRAY_ALLOC(name)	DEFINE_XARRAY_FLAGS(name, XA_FLAGS_ALLOC)

extern void xa_init_flags(struct xarray *xa, gfp_t flags);
#define xa_init(xa)	xa_init_flags(xa, 0)
extern void *xa_load(struct xarray *xa, unsigned long index);
extern void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
extern void *xa_erase(struct xarray *xa, unsigned long index);
extern void *xa_cmpxchg(struct xarray *xa, unsigned long index, void *old, void *entry, gfp_t gfp);
extern int __must_check xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
extern int __must_check xa_alloc(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit, gfp_t gfp);
extern void xa_destroy(struct xarray *xa);
extern bool xa_empty(const struct xarray *xa);
extern void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter);
extern void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter);
extern bool xa_is_err(const void *entry);
extern int xa_err(void *entry);
#define XA_PRESENT	8U
#define xa_for_each(xa, index, entry)					\
	for ((index) = 0, (entry) = xa_find(xa, &(index), ULONG_MAX, XA_PRESENT); \
	     (entry); (entry) = xa_find_after(xa, &(index), ULONG_MAX, XA_PRESENT))
#define xa_lock(xa)	spin_lock(&(xa)->xa_lock)
#define xa_unlock(xa)	spin_unlock(&(xa)->xa_lock)
extern void *__xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
extern void *__xa_erase(struct xarray *xa, unsigned long index);

#endif
