/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MM_H
#define _GUPCHECK_LINUX_MM_H
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mmap_lock.h>
#include <linux/page-flags.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <asm/page.h>
#include <asm/pgtable.h>

/* vm_area_struct.vm_flags (6.1 values) */
#define VM_NONE		0x00000000
#define VM_READ		0x00000001
#define VM_WRITE	0x00000002
#define VM_EXEC		0x00000004
#define VM_SHARED	0x00000008
#define VM_MAYREAD	0x00000010
#define VM_MAYWRITE	0x00000020
#define VM_MAYEXEC	0x00000040
#define VM_MAYSHARE	0x00000080
#define VM_GROWSDOWN	0x00000100
#define VM_UFFD_MISSING	0x00000200
#define VM_PFNMAP	0x00000400
#define VM_UFFD_WP	0x00001000
#define VM_LOCKED	0x00002000
#define VM_IO		0x00004000
#define VM_SEQ_READ	0x00008000
#define VM_RAND_READ	0x00010000
#define VM_DONTCOPY	0x00020000
#define VM_DONTEXPAND	0x00040000
#define VM_LOCKONFAULT	0x00080000
#define VM_ACCOUNT	0x00100000
#define VM_NORESERVE	0x00200000
#define VM_HUGETLB	0x00400000
#define VM_SYNC		0x00800000
#define VM_ARCH_1	0x01000000
#define VM_WIPEONFORK	0x02000000
#define VM_DONTDUMP	0x04000000
#define VM_SOFTDIRTY	0x08000000
#define VM_MIXEDMAP	0x10000000
#define VM_HUGEPAGE	0x20000000
#define VM_NOHUGEPAGE	0x40000000
#define VM_MERGEABLE	0x80000000
#define VM_PAT		VM_ARCH_1

/* gup_flags (6.1: macros, not yet an enum) */
#define FOLL_WRITE	0x01
#define FOLL_TOUCH	0x02
#define FOLL_GET	0x04
#define FOLL_DUMP	0x08
#define FOLL_FORCE	0x10
#define FOLL_NOWAIT	0x20
#define FOLL_NOFAULT	0x80
#define FOLL_HWPOISON	0x100
#define FOLL_MIGRATION	0x400
#define FOLL_TRIED	0x800
#define FOLL_REMOTE	0x2000
#define FOLL_ANON	0x8000
#define FOLL_LONGTERM	0x10000
#define FOLL_SPLIT_PMD	0x20000
#define FOLL_PIN	0x40000
#define FOLL_FAST_ONLY	0x80000

struct vm_fault {
	const struct {
		struct vm_area_struct *vma;
		gfp_t gfp_mask;
		pgoff_t pgoff;
		unsigned long address;
		unsigned long real_address;
	};
	unsigned int flags;
	pmd_t *pmd;
	pud_t *pud;
	pte_t orig_pte;
	struct page *cow_page;
	struct page *page;
	pte_t *pte;
	spinlock_t *ptl;
};
#define FAULT_FLAG_WRITE	0x01

enum page_entry_size { PE_SIZE_PTE = 0, PE_SIZE_PMD, PE_SIZE_PUD };
struct mempolicy;

struct vm_operations_struct {
	void (*open)(struct vm_area_struct *area);
	void (*close)(struct vm_area_struct *area);
	int (*may_split)(struct vm_area_struct *area, unsigned long addr);
	int (*mremap)(struct vm_area_struct *area);
	int (*mprotect)(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, unsigned long newflags);
	vm_fault_t (*fault)(struct vm_fault *vmf);
	vm_fault_t (*huge_fault)(struct vm_fault *vmf, enum page_entry_size pe_size);
	vm_fault_t (*map_pages)(struct vm_fault *vmf, pgoff_t start_pgoff, pgoff_t end_pgoff);
	unsigned long (*pagesize)(struct vm_area_struct *area);
	vm_fault_t (*page_mkwrite)(struct vm_fault *vmf);
	vm_fault_t (*pfn_mkwrite)(struct vm_fault *vmf);
	int (*access)(struct vm_area_struct *vma, unsigned long addr,
		      void *buf, int len, int write);
	const char *(*name)(struct vm_area_struct *vma);
	struct page *(*find_special_page)(struct vm_area_struct *vma, unsigned long addr);
};

#define offset_in_page(p)	((unsigned long)(p) & ~PAGE_MASK)
#define PAGE_ALIGN(addr)	ALIGN(addr, PAGE_SIZE)
#define PAGE_ALIGNED(addr)	IS_ALIGNED((unsigned long)(addr), PAGE_SIZE)
#define PFN_DOWN(x)		((x) >> PAGE_SHIFT)
#define PFN_UP(x)		(((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)

/* Page references (FOLL_GET) */
extern void get_page(struct page *page);
extern void put_page(struct page *page);
extern int page_count(const struct page *page);
extern void release_pages(struct page **pages, int nr);
extern bool set_page_dirty(struct page *page);
extern int set_page_dirty_lock(struct page *page);
extern void *page_address(const struct page *page);
extern struct page *vmalloc_to_page(const void *addr);
extern unsigned long vmalloc_to_pfn(const void *addr);
extern bool is_vmalloc_addr(const void *x);
extern struct folio *page_folio_fn(struct page *page);
#define page_folio(p)	page_folio_fn(p)
extern void folio_put(struct folio *folio);
extern void folio_get(struct folio *folio);

/* Pins (FOLL_PIN) */
extern void unpin_user_page(struct page *page);
extern void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages, bool make_dirty);
extern void unpin_user_page_range_dirty_lock(struct page *page, unsigned long npages, bool make_dirty);
extern void unpin_user_pages(struct page **pages, unsigned long npages);
extern bool page_maybe_dma_pinned(struct page *page);

/* get_user_pages family, 6.1 signatures */
extern long get_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
				  unsigned int gup_flags, struct page **pages,
				  struct vm_area_struct **vmas, int *locked);
extern long pin_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
				  unsigned int gup_flags, struct page **pages,
				  struct vm_area_struct **vmas, int *locked);
extern long get_user_pages(unsigned long start, unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages, struct vm_area_struct **vmas);
extern long pin_user_pages(unsigned long start, unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages, struct vm_area_struct **vmas);
extern long get_user_pages_unlocked(unsigned long start, unsigned long nr_pages,
				    struct page **pages, unsigned int gup_flags);
extern long pin_user_pages_unlocked(unsigned long start, unsigned long nr_pages,
				    struct page **pages, unsigned int gup_flags);
extern int get_user_pages_fast(unsigned long start, int nr_pages, unsigned int gup_flags,
			       struct page **pages);
extern int pin_user_pages_fast(unsigned long start, int nr_pages, unsigned int gup_flags,
			       struct page **pages);
extern int get_user_pages_fast_only(unsigned long start, int nr_pages, unsigned int gup_flags,
				    struct page **pages);
extern int pin_user_pages_fast_only(unsigned long start, int nr_pages, unsigned int gup_flags,
				    struct page **pages);
extern int account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc);

extern int pfn_valid(unsigned long pfn);

/* Mapping kernel memory into user space */
extern int remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
			   unsigned long size, pgprot_t prot);
extern int io_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
			      unsigned long size, pgprot_t prot);
extern int vm_insert_page(struct vm_area_struct *vma, unsigned long addr, struct page *page);
extern int vm_insert_pages(struct vm_area_struct *vma, unsigned long addr, struct page **pages,
			   unsigned long *num);
extern int vm_map_pages(struct vm_area_struct *vma, struct page **pages, unsigned long num);
extern int vm_map_pages_zero(struct vm_area_struct *vma, struct page **pages, unsigned long num);
extern vm_fault_t vmf_insert_page(struct vm_area_struct *vma, unsigned long addr, struct page *page);
extern vm_fault_t vmf_insert_pfn(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn);
extern vm_fault_t vmf_insert_mixed(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn);
extern void zap_vma_ptes(struct vm_area_struct *vma, unsigned long address, unsigned long size);
extern struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
extern struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr);
static inline unsigned long vma_pages(struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
extern unsigned long totalram_pages(void);

#endif
