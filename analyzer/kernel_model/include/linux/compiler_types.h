/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_COMPILER_TYPES_H
#define _GUPCHECK_LINUX_COMPILER_TYPES_H

/* Address-space annotations are empty; gupcheck recognises them by spelling. */
#define __user
#define __kernel
#define __iomem
#define __percpu
#define __rcu
#define __force
#define __bitwise
#define __safe

#define __always_inline		inline __attribute__((__always_inline__))
#define noinline		__attribute__((__noinline__))
#define __must_check		__attribute__((__warn_unused_result__))
#define __maybe_unused		__attribute__((__unused__))
#define __always_unused		__attribute__((__unused__))
#define __used			__attribute__((__used__))
#define __cold			__attribute__((__cold__))
#define __packed		__attribute__((__packed__))
#define __aligned(x)		__attribute__((__aligned__(x)))
#define __section(s)		__attribute__((__section__(s)))
#define __printf(a, b)		__attribute__((__format__(printf, a, b)))
#define __noreturn		__attribute__((__noreturn__))
#define __weak			__attribute__((__weak__))
#define __alias(sym)		__attribute__((__alias__(#sym)))
#define __malloc		__attribute__((__malloc__))
#define __alloc_size(...)	__attribute__((__alloc_size__(__VA_ARGS__)))
#define __randomize_layout
#define __cacheline_aligned
#define __read_mostly
#define notrace
#define asmlinkage
#define fallthrough		__attribute__((__fallthrough__))

#define __same_type(a, b)	__builtin_types_compatible_p(__typeof__(a), __typeof__(b))

#endif
