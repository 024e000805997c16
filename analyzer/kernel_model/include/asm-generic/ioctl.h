/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_GENERIC_IOCTL_H
#define _GUPCHECK_ASM_GENERIC_IOCTL_H
#include <uapi/asm-generic/ioctl.h>
#endif
