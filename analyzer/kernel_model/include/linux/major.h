/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MAJOR_H
#define _GUPCHECK_LINUX_MAJOR_H
#define MISC_MAJOR	10
#endif
