/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_BUG_H
#define _GUPCHECK_ASM_BUG_H
#include <linux/bug.h>
#endif
