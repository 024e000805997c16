/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_IO_H
#define _GUPCHECK_ASM_IO_H
#include <linux/io.h>
#endif
