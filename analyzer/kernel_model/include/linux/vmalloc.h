/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_VMALLOC_H
#define _GUPCHECK_LINUX_VMALLOC_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <asm/pgtable.h>
struct vm_area_struct;
struct page;
#define VM_MAP		0x00000004
#define VM_USERMAP	0x00000008
extern void *vmalloc(unsigned long size) __alloc_size(1);
extern void *vzalloc(unsigned long size) __alloc_size(1);
extern void *vmalloc_user(unsigned long size) __alloc_size(1);
extern void *vmalloc_32(unsigned long size) __alloc_size(1);
extern void *vmalloc_32_user(unsigned long size) __alloc_size(1);
extern void *vmalloc_node(unsigned long size, int node) __alloc_size(1);
extern void vfree(const void *addr);
extern void *vmap(struct page **pages, unsigned int count, unsigned long flags, pgprot_t prot);
extern void vunmap(const void *addr);
extern int remap_vmalloc_range(struct vm_area_struct *vma, void *addr, unsigned long pgoff);
extern int remap_vmalloc_range_partial(struct vm_area_struct *vma, unsigned long uaddr,
				       void *kaddr, unsigned long pgoff, unsigned long size);
#endif
