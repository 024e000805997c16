/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_MMU_NOTIFIER_H
#define _GUPCHECK_LINUX_MMU_NOTIFIER_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/mm_types.h>

struct mmu_interval_notifier;

/* 6.1 values */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,
	MMU_NOTIFY_CLEAR,
	MMU_NOTIFY_PROTECTION_VMA,
	MMU_NOTIFY_PROTECTION_PAGE,
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE,
};

#define MMU_NOTIFIER_RANGE_BLOCKABLE (1 << 0)

struct mmu_notifier_range {
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned flags;
	enum mmu_notifier_event event;
	void *owner;
};

/* linux/interval_tree.h (rb_node reduced to its layout) */
struct interval_tree_node {
	struct { unsigned long __rb_parent_color; void *rb_right, *rb_left; } rb;
	unsigned long start;
	unsigned long last;
	unsigned long __subtree_last;
};

struct mmu_interval_notifier_ops {
	bool (*invalidate)(struct mmu_interval_notifier *interval_sub,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq);
};

struct mmu_interval_notifier {
	struct interval_tree_node interval_tree;
	const struct mmu_interval_notifier_ops *ops;
	struct mm_struct *mm;
	struct hlist_node deferred_item;
	unsigned long invalidate_seq;
};

extern unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub);
extern int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops);
extern int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					       struct mm_struct *mm, unsigned long start,
					       unsigned long length,
					       const struct mmu_interval_notifier_ops *ops);
extern void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub);

static inline void mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
					unsigned long cur_seq)
{
	WRITE_ONCE(interval_sub->invalidate_seq, cur_seq);
}

static inline bool mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					   unsigned long seq)
{
	return interval_sub->invalidate_seq != seq;
}

static inline bool mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
					    unsigned long seq)
{
	return READ_ONCE(interval_sub->invalidate_seq) != seq;
}

static inline bool mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return (range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE);
}

#endif
