/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_ERRNO_H
#define _GUPCHECK_ASM_ERRNO_H
#include <asm-generic/errno.h>
#endif
