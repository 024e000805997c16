/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_RWLOCK_H
#define _GUPCHECK_LINUX_RWLOCK_H
#include <linux/spinlock.h>
#endif
