/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_ERRNO_H
#define _GUPCHECK_LINUX_ERRNO_H
#include <asm-generic/errno.h>
/* Kernel-internal codes, never seen by user space. */
#define ERESTARTSYS	512
#define ERESTARTNOINTR	513
#define ENOIOCTLCMD	515
#define EPROBE_DEFER	517
#define ENOTSUPP	524
#endif
