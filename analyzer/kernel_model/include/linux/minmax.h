/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MINMAX_H
#define _GUPCHECK_LINUX_MINMAX_H
#include <linux/compiler.h>

/* Each argument evaluated once; like the kernel, min/max want both sides of one type. */
#define __gc_cmp(x, y, op) ({						\
	__typeof__(x) __gc_x = (x);					\
	__typeof__(y) __gc_y = (y);					\
	(void)(&__gc_x == &__gc_y);					\
	__gc_x op __gc_y ? __gc_x : __gc_y; })
#define __gc_cmp_t(type, x, y, op) ({					\
	type __gc_tx = (x);						\
	type __gc_ty = (y);						\
	__gc_tx op __gc_ty ? __gc_tx : __gc_ty; })

#define min(x, y)		__gc_cmp(x, y, <)
#define max(x, y)		__gc_cmp(x, y, >)
#define min_t(type, x, y)	__gc_cmp_t(type, x, y, <)
#define max_t(type, x, y)	__gc_cmp_t(type, x, y, >)
#define min3(x, y, z)		min((__typeof__(x))min(x, y), z)
#define max3(x, y, z)		max((__typeof__(x))max(x, y), z)
#define umin(x, y)		min_t(unsigned long long, x, y)
#define umax(x, y)		max_t(unsigned long long, x, y)
#define clamp(val, lo, hi)	min((__typeof__(val))max(val, lo), hi)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#define clamp_val(val, lo, hi)	clamp_t(__typeof__(val), val, lo, hi)
#define swap(a, b) \
	do { __typeof__(a) __gc_tmp = (a); (a) = (b); (b) = __gc_tmp; } while (0)

#endif
