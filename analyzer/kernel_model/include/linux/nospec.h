/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_NOSPEC_H
#define _GUPCHECK_LINUX_NOSPEC_H
#include <linux/compiler.h>

extern unsigned long array_index_mask_nospec(unsigned long index, unsigned long size);
/* 'index' if it is below 'size', else 0, also under speculation. */
#define array_index_nospec(index, size) ({				\
	__typeof__(index) __gc_i = (index);				\
	__typeof__(size) __gc_s = (size);				\
	unsigned long __gc_m = array_index_mask_nospec(__gc_i, __gc_s);	\
	(__typeof__(__gc_i))(__gc_i & __gc_m); })

#endif
