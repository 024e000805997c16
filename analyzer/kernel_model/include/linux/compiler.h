/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_COMPILER_H
#define _GUPCHECK_LINUX_COMPILER_H
#include <linux/compiler_types.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define barrier()	__asm__ __volatile__("" : : : "memory")

/* One volatile access of the object; the value has the object's type. */
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val)	do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#define __must_be_array(a) \
	((int)sizeof(struct { int:(-!!__same_type((a), &(a)[0])); }))

#endif
