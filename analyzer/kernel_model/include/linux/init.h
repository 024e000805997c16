/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_INIT_H
#define _GUPCHECK_LINUX_INIT_H
#include <linux/compiler.h>
#include <linux/types.h>

#define __init		__section(".init.text") __cold
#define __exit		__section(".exit.text") __cold
#define __initdata	__section(".init.data")
#define __initconst	__section(".init.rodata")
#define __exitdata	__section(".exit.data")

typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);

#endif
