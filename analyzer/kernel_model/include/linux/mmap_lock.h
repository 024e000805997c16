/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MMAP_LOCK_H
#define _GUPCHECK_LINUX_MMAP_LOCK_H
#include <linux/compiler.h>
#include <linux/types.h>
struct mm_struct;
extern void mmap_init_lock(struct mm_struct *mm);
extern void mmap_read_lock(struct mm_struct *mm);
extern int __must_check mmap_read_lock_killable(struct mm_struct *mm);
extern bool mmap_read_trylock(struct mm_struct *mm);
extern void mmap_read_unlock(struct mm_struct *mm);
extern void mmap_write_lock(struct mm_struct *mm);
extern int __must_check mmap_write_lock_killable(struct mm_struct *mm);
extern void mmap_write_unlock(struct mm_struct *mm);
extern void mmap_write_downgrade(struct mm_struct *mm);
extern void mmap_assert_locked(struct mm_struct *mm);
#endif
