/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MODULEPARAM_H
#define _GUPCHECK_LINUX_MODULEPARAM_H
#include <linux/types.h>
/* Keeps a reference to the variable so it counts as used. */
#define module_param_named(name, value, type, perm) \
	static void *__gupcheck_param_##name __maybe_unused = (void *)&(value)
#define module_param(name, type, perm)	module_param_named(name, name, type, perm)
#define module_param_array(name, type, nump, perm) module_param_named(name, name, type, perm)
#define MODULE_PARM_DESC(name, desc)	\
	static const char __gupcheck_parm_desc_##name[] __maybe_unused = desc
#endif
