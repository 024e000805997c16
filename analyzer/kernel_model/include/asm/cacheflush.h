/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_CACHEFLUSH_H
#define _GUPCHECK_ASM_CACHEFLUSH_H
#include <linux/highmem.h>
#endif
