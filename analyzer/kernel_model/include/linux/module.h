/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MODULE_H
#define _GUPCHECK_LINUX_MODULE_H
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/export.h>

struct module;
extern struct module __this_module;
#define THIS_MODULE (&__this_module)

/*
 * As in a kernel built with MODULE: init_module/cleanup_module are aliases of
 * the driver's functions, and a type-checking stub returns the function.
 */
#define module_init(initfn)						\
	static inline initcall_t __maybe_unused __inittest(void)	\
	{ return initfn; }						\
	int init_module(void) __attribute__((__alias__(#initfn)))
#define module_exit(exitfn)						\
	static inline exitcall_t __maybe_unused __exittest(void)	\
	{ return exitfn; }						\
	void cleanup_module(void) __attribute__((__alias__(#exitfn)))

#define __gupcheck_modinfo(tag, info)					\
	static const char __gupcheck_concat(__modinfo_, __LINE__)[]	\
	__used __section(".modinfo") = tag "=" info
#define __gupcheck_concat(a, b)		__gupcheck_concat2(a, b)
#define __gupcheck_concat2(a, b)	a##b

#define MODULE_LICENSE(l)		__gupcheck_modinfo("license", l)
#define MODULE_AUTHOR(a)		__gupcheck_modinfo("author", a)
#define MODULE_DESCRIPTION(d)		__gupcheck_modinfo("description", d)
#define MODULE_VERSION(v)		__gupcheck_modinfo("version", v)
#define MODULE_ALIAS(a)			__gupcheck_modinfo("alias", a)
#define MODULE_SOFTDEP(s)		__gupcheck_modinfo("softdep", s)
#define MODULE_IMPORT_NS(ns)		__gupcheck_modinfo("import_ns", #ns)
#define MODULE_DEVICE_TABLE(type, name)	extern __typeof__(name) __gupcheck_devtable_##type

extern bool try_module_get(struct module *m);
extern void module_put(struct module *m);
extern void __module_get(struct module *m);

#endif
