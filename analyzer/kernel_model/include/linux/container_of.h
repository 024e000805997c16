/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_CONTAINER_OF_H
#define _GUPCHECK_LINUX_CONTAINER_OF_H
#include <linux/stddef.h>

/* The structure of type 'type' whose 'member' is at 'ptr'. */
#define container_of(ptr, type, member) ({				\
	void *__gc_mptr = (void *)(ptr);				\
	((type *)((char *)__gc_mptr - offsetof(type, member)));	})

#endif
