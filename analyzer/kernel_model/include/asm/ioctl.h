/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_IOCTL_H
#define _GUPCHECK_ASM_IOCTL_H
#include <asm-generic/ioctl.h>
#endif
