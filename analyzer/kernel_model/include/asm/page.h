/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_PAGE_H
#define _GUPCHECK_ASM_PAGE_H
#include <linux/types.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))

struct page;
extern unsigned long __pa(const volatile void *kaddr);
#define __va(paddr)	((void *)((unsigned long)(paddr) + PAGE_OFFSET))
#define PAGE_OFFSET	((unsigned long)0xffff888000000000UL)
extern struct page *virt_to_page(const void *kaddr);
extern struct page *pfn_to_page(unsigned long pfn);
extern unsigned long page_to_pfn(const struct page *page);
extern bool virt_addr_valid(const void *kaddr);
#define virt_to_pfn(kaddr)	(__pa(kaddr) >> PAGE_SHIFT)
#define page_to_phys(page)	((phys_addr_t)page_to_pfn(page) << PAGE_SHIFT)
#define pfn_to_kaddr(pfn)	__va((pfn) << PAGE_SHIFT)

#endif
