/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_FILE_H
#define _GUPCHECK_LINUX_FILE_H
#include <linux/fs.h>
extern int get_unused_fd_flags(unsigned int flags);
extern void put_unused_fd(unsigned int fd);
extern void fd_install(unsigned int fd, struct file *file);
#endif
