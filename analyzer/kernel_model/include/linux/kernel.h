/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_KERNEL_H
#define _GUPCHECK_LINUX_KERNEL_H
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/limits.h>
#include <linux/bits.h>
#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/container_of.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/printk.h>
#include <linux/overflow.h>

#define ARRAY_SIZE(arr)		(sizeof(arr) / sizeof((arr)[0]) + __must_be_array(arr))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define ALIGN(x, a)		(((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define round_up(x, y)		((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define round_down(x, y)	((x) & ~((__typeof__(x))((y) - 1)))
#define roundup(x, y)		((((x) + ((y) - 1)) / (y)) * (y))
#define abs(x)			__builtin_choose_expr(sizeof(x) > sizeof(int), __builtin_labs(x), __builtin_abs(x))
#define u64_to_user_ptr(x)	((void __user *)(uintptr_t)(x))
#define upper_32_bits(n)	((u32)(((n) >> 16) >> 16))
#define lower_32_bits(n)	((u32)((n) & 0xffffffff))

extern void might_sleep(void);
extern int __must_check kstrtoul(const char *s, unsigned int base, unsigned long *res);
extern int __must_check kstrtol(const char *s, unsigned int base, long *res);
extern int __must_check kstrtoint(const char *s, unsigned int base, int *res);
extern int __must_check kstrtouint(const char *s, unsigned int base, unsigned int *res);
extern int __must_check kstrtou8(const char *s, unsigned int base, u8 *res);
extern int __must_check kstrtobool(const char *s, bool *res);
extern int __must_check kstrtoul_from_user(const char __user *s, size_t count, unsigned int base, unsigned long *res);
extern int __must_check kstrtouint_from_user(const char __user *s, size_t count, unsigned int base, unsigned int *res);
extern int __must_check kstrtoint_from_user(const char __user *s, size_t count, unsigned int base, int *res);
extern __printf(3, 4) int snprintf(char *buf, size_t size, const char *fmt, ...);
extern __printf(3, 4) int scnprintf(char *buf, size_t size, const char *fmt, ...);
extern __printf(2, 3) int sprintf(char *buf, const char *fmt, ...);
extern __printf(2, 3) char *kasprintf(gfp_t gfp, const char *fmt, ...);
extern int sscanf(const char *buf, const char *fmt, ...);

#endif
