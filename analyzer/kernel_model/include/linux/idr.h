/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_IDR_H
#define _GUPCHECK_LINUX_IDR_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/xarray.h>

struct idr { struct xarray idr_rt; unsigned int idr_base; unsigned int idr_next; };
#define IDR_INIT(name)	{ .idr_rt = XARRAY_INIT(name.idr_rt, XA_FLAGS_ALLOC), .idr_base = 0, .idr_next = 0 }
#define DEFINE_IDR(name)	struct idr name = IDR_INIT(name)

extern void idr_init(struct idr *idr);
/* The new id in [start, end) (end <= 0: no upper limit), or -ENOMEM / -ENOSPC. */
extern int idr_alloc(struct idr *idr, void *ptr, int start, int end, gfp_t gfp);
extern int idr_alloc_cyclic(struct idr *idr, void *ptr, int start, int end, gfp_t gfp);
extern void *idr_find(const struct idr *idr, unsigned long id);
extern void *idr_remove(struct idr *idr, unsigned long id);
extern void *idr_replace(struct idr *idr, void *ptr, unsigned long id);
extern void idr_destroy(struct idr *idr);
extern void *idr_get_next(struct idr *idr, int *nextid);
extern bool idr_is_empty(const struct idr *idr);
#define idr_for_each_entry(idr, entry, id) \
	for ((id) = 0; ((entry) = idr_get_next(idr, &(id))) != NULL; (id) += 1U)

struct ida { struct xarray xa; };
#define DEFINE_IDA(name)	struct ida name = { .xa = XARRAY_INIT(name.xa, XA_FLAGS_ALLOC) }
extern void ida_init(struct ida *ida);
extern int ida_alloc_range(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp);
#define ida_alloc(ida, gfp)	ida_alloc_range(ida, 0, ~0U, gfp)
#define ida_alloc_max(ida, max, gfp)	ida_alloc_range(ida, 0, max, gfp)
extern void ida_free(struct ida *ida, unsigned int id);
extern void ida_destroy(struct ida *ida);

#endif
