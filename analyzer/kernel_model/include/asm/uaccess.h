/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_UACCESS_H
#define _GUPCHECK_ASM_UACCESS_H
#include <linux/uaccess.h>
#endif
