/*
 * GUP004 case "vm-open-refcount": three devices export a vmalloc_user
 * region with remap_vmalloc_range() and count its live mappings in their
 * vm_operations_struct callbacks. "mapcount" uses a plain int (++ in
 * vm_open, -- in vm_close, += in the fault statistics): flagged, since the
 * callbacks of mappings in different processes run at the same time.
 * "mapcount_atomic" uses atomic_t and "mapcount_locked" takes the region's
 * spinlock: clean. A loop counter in a callback is a local: clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#define MC_REGION_BYTES	(4 * PAGE_SIZE)

struct mc_region {
	spinlock_t lock;
	void *mem;		/* vmalloc_user, mapped by mmap() */
	int maps;		/* live mappings */
	atomic_t live;		/* live mappings, atomically */
	unsigned long touched;	/* pages touched through the mapping */
};

static struct mc_region plain_region, atomic_region, locked_region;

/* Positive: plain counter updates in the callbacks. */
static void mc_plain_open(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;

	r->maps++; /* expect: GUP004 */
}

static void mc_plain_close(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;

	r->maps--; /* expect: GUP004 */
}

static vm_fault_t mc_plain_mkwrite(struct vm_fault *vmf)
{
	struct mc_region *r = vmf->vma->vm_private_data;

	r->touched += 1; /* expect: GUP004 */
	return 0;
}

static const struct vm_operations_struct mc_plain_vm_ops = {
	.open		= mc_plain_open,
	.close		= mc_plain_close,
	.page_mkwrite	= mc_plain_mkwrite,
};

/* Negative: atomics. */
static void mc_atomic_open(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;

	atomic_inc(&r->live);
}

static void mc_atomic_close(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;

	if (atomic_dec_and_test(&r->live))
		pr_debug("mapcount: last mapping of %p gone\n", r->mem);
}

static const struct vm_operations_struct mc_atomic_vm_ops = {
	.open	= mc_atomic_open,
	.close	= mc_atomic_close,
};

/* Negative: the same plain counter, under the region's spinlock. */
static void mc_locked_open(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;

	spin_lock(&r->lock);
	r->maps++;
	spin_unlock(&r->lock);
}

static void mc_locked_close(struct vm_area_struct *vma)
{
	struct mc_region *r = vma->vm_private_data;
	unsigned long flags;
	int i, pages = 0;

	/* a local counter: nobody else sees it */
	for (i = 0; i < vma_pages(vma); i++)
		pages++;
	spin_lock_irqsave(&r->lock, flags);
	r->maps -= 1;
	spin_unlock_irqrestore(&r->lock, flags);
	pr_debug("mapcount: unmapped %d pages\n", pages);
}

static const struct vm_operations_struct mc_locked_vm_ops = {
	.open	= mc_locked_open,
	.close	= mc_locked_close,
};

static int mc_map(struct mc_region *r, struct vm_area_struct *vma,
		  const struct vm_operations_struct *ops)
{
	int ret;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > MC_REGION_BYTES)
		return -EINVAL;
	ret = remap_vmalloc_range(vma, r->mem, 0);
	if (ret)
		return ret;
	vma->vm_private_data = r;
	vma->vm_ops = ops;
	/* mmap() does not call ->open for the first mapping */
	ops->open(vma);
	return 0;
}

static int mc_plain_mmap(struct file *file, struct vm_area_struct *vma)
{
	return mc_map(&plain_region, vma, &mc_plain_vm_ops);
}

static int mc_atomic_mmap(struct file *file, struct vm_area_struct *vma)
{
	return mc_map(&atomic_region, vma, &mc_atomic_vm_ops);
}

static int mc_locked_mmap(struct file *file, struct vm_area_struct *vma)
{
	return mc_map(&locked_region, vma, &mc_locked_vm_ops);
}

static const struct file_operations mc_plain_fops = {
	.owner	= THIS_MODULE,
	.mmap	= mc_plain_mmap,
	.llseek	= noop_llseek,
};

static const struct file_operations mc_atomic_fops = {
	.owner	= THIS_MODULE,
	.mmap	= mc_atomic_mmap,
	.llseek	= noop_llseek,
};

static const struct file_operations mc_locked_fops = {
	.owner	= THIS_MODULE,
	.mmap	= mc_locked_mmap,
	.llseek	= noop_llseek,
};

static struct miscdevice mc_devices[] = {
	{ .minor = MISC_DYNAMIC_MINOR, .name = "mapcount", .fops = &mc_plain_fops },
	{ .minor = MISC_DYNAMIC_MINOR, .name = "mapcount_atomic", .fops = &mc_atomic_fops },
	{ .minor = MISC_DYNAMIC_MINOR, .name = "mapcount_locked", .fops = &mc_locked_fops },
};

static struct mc_region *mc_regions[] = { &plain_region, &atomic_region, &locked_region };

static void mc_cleanup(int registered)
{
	int i;

	for (i = 0; i < registered; i++)
		misc_deregister(&mc_devices[i]);
	for (i = 0; i < ARRAY_SIZE(mc_regions); i++)
		vfree(mc_regions[i]->mem);
}

static int __init mc_init(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(mc_regions); i++) {
		spin_lock_init(&mc_regions[i]->lock);
		atomic_set(&mc_regions[i]->live, 0);
		mc_regions[i]->mem = vmalloc_user(MC_REGION_BYTES);
		if (!mc_regions[i]->mem) {
			mc_cleanup(0);
			return -ENOMEM;
		}
	}
	for (i = 0; i < ARRAY_SIZE(mc_devices); i++) {
		ret = misc_register(&mc_devices[i]);
		if (ret) {
			mc_cleanup(i);
			return ret;
		}
	}
	return 0;
}

static void __exit mc_exit(void)
{
	mc_cleanup(ARRAY_SIZE(mc_devices));
}

module_init(mc_init);
module_exit(mc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mapping counters (gupcheck GUP004 test case)");
