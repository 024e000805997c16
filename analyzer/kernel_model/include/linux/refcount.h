/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_REFCOUNT_H
#define _GUPCHECK_LINUX_REFCOUNT_H
#include <linux/atomic.h>

typedef struct refcount_struct { atomic_t refs; } refcount_t;
#define REFCOUNT_INIT(n)	{ .refs = ATOMIC_INIT(n), }

extern void refcount_set(refcount_t *r, int n);
extern unsigned int refcount_read(const refcount_t *r);
extern void refcount_inc(refcount_t *r);
extern void refcount_dec(refcount_t *r);
extern void refcount_add(int i, refcount_t *r);
extern bool __must_check refcount_inc_not_zero(refcount_t *r);
extern bool __must_check refcount_dec_and_test(refcount_t *r);
extern bool __must_check refcount_sub_and_test(int i, refcount_t *r);
extern bool __must_check refcount_dec_if_one(refcount_t *r);

#endif
