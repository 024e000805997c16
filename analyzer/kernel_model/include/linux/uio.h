/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_UIO_H
#define _GUPCHECK_LINUX_UIO_H
#include <linux/types.h>
struct iovec { void __user *iov_base; size_t iov_len; };
struct iov_iter;
struct kiocb { struct file *ki_filp; loff_t ki_pos; int ki_flags; };
extern size_t copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i);
extern size_t copy_from_iter(void *addr, size_t bytes, struct iov_iter *i);
extern size_t iov_iter_count(const struct iov_iter *i);
#endif
