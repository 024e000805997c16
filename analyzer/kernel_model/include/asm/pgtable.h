/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_ASM_PGTABLE_H
#define _GUPCHECK_ASM_PGTABLE_H
#include <linux/types.h>

typedef struct pgprot { unsigned long pgprot; } pgprot_t;
typedef struct { unsigned long pte; } pte_t;
typedef struct { unsigned long pmd; } pmd_t;
typedef struct { unsigned long pud; } pud_t;
typedef struct { unsigned long pgd; } pgd_t;
#define pgprot_val(x)	((x).pgprot)
#define __pgprot(x)	((pgprot_t) { (x) })
extern pgprot_t pgprot_noncached(pgprot_t prot);
extern pgprot_t pgprot_writecombine(pgprot_t prot);
extern pgprot_t vm_get_page_prot(unsigned long vm_flags);
extern pgprot_t __gupcheck_page_shared;
#define PAGE_SHARED	__gupcheck_page_shared
extern pgprot_t __gupcheck_page_kernel;
#define PAGE_KERNEL	__gupcheck_page_kernel

#endif
