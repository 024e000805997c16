/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_UAPI_LINUX_IOCTL_H
#define _GUPCHECK_UAPI_LINUX_IOCTL_H
#include <asm/ioctl.h>
#endif
