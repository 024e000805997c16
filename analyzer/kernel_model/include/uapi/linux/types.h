/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_UAPI_LINUX_TYPES_H
#define _GUPCHECK_UAPI_LINUX_TYPES_H
#include <linux/types.h>
#endif
