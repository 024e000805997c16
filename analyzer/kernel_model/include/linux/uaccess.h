/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_UACCESS_H
#define _GUPCHECK_LINUX_UACCESS_H
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/sched.h>

/* Range check only; true when [addr, addr + size) lies in user space. */
extern bool __access_ok(const void __user *ptr, unsigned long size);
#define access_ok(addr, size) \
	likely(__access_ok((const void __user *)(addr), (size)))

/* Checked copies: the result is the number of bytes NOT copied. */
extern unsigned long __must_check copy_from_user(void *to, const void __user *from, unsigned long n);
extern unsigned long __must_check copy_to_user(void __user *to, const void *from, unsigned long n);
extern unsigned long __must_check clear_user(void __user *to, unsigned long n);
extern long __must_check strncpy_from_user(char *dst, const char __user *src, long count);
extern long __must_check strnlen_user(const char __user *src, long n);
extern int __must_check copy_struct_from_user(void *dst, size_t ksize, const void __user *src, size_t usize);

/* Unchecked copies: the caller must have done access_ok() on the range. */
extern unsigned long __must_check __copy_from_user(void *to, const void __user *from, unsigned long n);
extern unsigned long __must_check __copy_to_user(void __user *to, const void *from, unsigned long n);
extern unsigned long __must_check __clear_user(void __user *to, unsigned long n);
extern unsigned long __must_check copy_from_user_inatomic(void *to, const void __user *from, unsigned long n);
#define __copy_from_user_inatomic copy_from_user_inatomic

/* Single-value accessors; each yields 0 or -EFAULT (an int), like the kernel's. */
extern int __gupcheck_fetch_user(unsigned long *val, const void __user *ptr, unsigned long size, bool checked);
extern int __gupcheck_store_user(const void *val, void __user *ptr, unsigned long size, bool checked);

#define __gupcheck_get_user(x, ptr, checked) ({				\
	unsigned long __gu_val = 0;					\
	int __gu_err = __gupcheck_fetch_user(&__gu_val, (ptr),		\
					     sizeof(*(ptr)), checked);	\
	(x) = (__typeof__(*(ptr)))__gu_val;				\
	__gu_err; })
#define __gupcheck_put_user(x, ptr, checked) ({				\
	__typeof__(*(ptr)) __pu_val = (x);				\
	__gupcheck_store_user(&__pu_val, (ptr), sizeof(*(ptr)), checked); })

#define get_user(x, ptr)	__gupcheck_get_user(x, ptr, true)
#define put_user(x, ptr)	__gupcheck_put_user(x, ptr, true)
#define __get_user(x, ptr)	__gupcheck_get_user(x, ptr, false)
#define __put_user(x, ptr)	__gupcheck_put_user(x, ptr, false)

extern void pagefault_disable(void);
extern void pagefault_enable(void);

#endif
