/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_ATOMIC_H
#define _GUPCHECK_ASM_ATOMIC_H
#include <linux/atomic.h>
#endif
