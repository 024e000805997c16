/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SCHED_MM_H
#define _GUPCHECK_LINUX_SCHED_MM_H
#include <linux/sched.h>
#include <linux/mm_types.h>
extern void mmgrab(struct mm_struct *mm);
extern void mmdrop(struct mm_struct *mm);
extern void mmget(struct mm_struct *mm);
extern bool mmget_not_zero(struct mm_struct *mm);
extern void mmput(struct mm_struct *mm);
extern struct mm_struct *get_task_mm(struct task_struct *task);
extern unsigned int memalloc_pin_save(void);
extern void memalloc_pin_restore(unsigned int flags);
#endif
