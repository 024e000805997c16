/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_BUG_H
#define _GUPCHECK_LINUX_BUG_H
#include <linux/compiler.h>
#include <linux/build_bug.h>

extern void __gupcheck_warn(const char *file, int line, const char *fmt, ...) __cold;

#define BUG()		do { __builtin_trap(); } while (0)
#define BUG_ON(cond)	do { if (unlikely(cond)) BUG(); } while (0)
#define WARN(cond, fmt...) ({						\
	int __gc_warn = !!(cond);					\
	if (unlikely(__gc_warn))					\
		__gupcheck_warn(__FILE__, __LINE__, fmt);		\
	unlikely(__gc_warn);						\
})
#define WARN_ON(cond)		WARN(cond, "WARN_ON(" #cond ")")
#define WARN_ON_ONCE(cond)	WARN_ON(cond)
#define WARN_ONCE(cond, fmt...)	WARN(cond, fmt)

#endif
