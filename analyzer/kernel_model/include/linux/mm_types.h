/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MM_TYPES_H
#define _GUPCHECK_LINUX_MM_TYPES_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/rwsem.h>
#include <linux/atomic.h>
#include <asm/page.h>
#include <asm/pgtable.h>

struct address_space;
struct file;
struct vm_operations_struct;

struct page {
	unsigned long flags;
	union {
		struct { struct list_head lru; struct address_space *mapping; pgoff_t index; unsigned long private; };
		struct callback_head callback_head;
	};
	atomic_t _mapcount;
	atomic_t _refcount;
};

struct folio {
	struct page page;
};

struct mm_struct {
	unsigned long task_size;
	unsigned long mmap_base;
	pgd_t *pgd;
	atomic_t mm_users;
	atomic_t mm_count;
	int map_count;
	spinlock_t page_table_lock;
	struct rw_semaphore mmap_lock;
	unsigned long total_vm, locked_vm, pinned_vm;
	atomic64_t pinned_vm64;
	unsigned long start_code, end_code, start_data, end_data;
	unsigned long start_brk, brk, start_stack;
	unsigned long def_flags;
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	struct vm_area_struct *vm_next, *vm_prev;
	struct mm_struct *vm_mm;
	pgprot_t vm_page_prot;
	unsigned long vm_flags;
	struct list_head anon_vma_chain;
	const struct vm_operations_struct *vm_ops;
	unsigned long vm_pgoff;
	struct file *vm_file;
	void *vm_private_data;
};

typedef unsigned int vm_fault_t;

enum vm_fault_reason {
	VM_FAULT_OOM		= (vm_fault_t)0x000001,
	VM_FAULT_SIGBUS		= (vm_fault_t)0x000002,
	VM_FAULT_MAJOR		= (vm_fault_t)0x000004,
	VM_FAULT_WRITE		= (vm_fault_t)0x000008,
	VM_FAULT_HWPOISON	= (vm_fault_t)0x000010,
	VM_FAULT_HWPOISON_LARGE	= (vm_fault_t)0x000020,
	VM_FAULT_SIGSEGV	= (vm_fault_t)0x000040,
	VM_FAULT_NOPAGE		= (vm_fault_t)0x000100,
	VM_FAULT_LOCKED		= (vm_fault_t)0x000200,
	VM_FAULT_RETRY		= (vm_fault_t)0x000400,
	VM_FAULT_FALLBACK	= (vm_fault_t)0x000800,
	VM_FAULT_DONE_COW	= (vm_fault_t)0x001000,
	VM_FAULT_NEEDDSYNC	= (vm_fault_t)0x002000,
	VM_FAULT_COMPLETED	= (vm_fault_t)0x004000,
	VM_FAULT_HINDEX_MASK	= (vm_fault_t)0x0f0000,
};
#define VM_FAULT_ERROR (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | \
			VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK)

#endif
