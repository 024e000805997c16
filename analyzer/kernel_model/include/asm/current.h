/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_CURRENT_H
#define _GUPCHECK_ASM_CURRENT_H
#include <linux/compiler.h>
struct task_struct;
extern struct task_struct *get_current(void);
#define current get_current()
#endif
