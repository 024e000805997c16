/*
 * GUP003 case "heap-with-and-without-dontfork", driver side: CR_IOC_REGISTER
 * takes FOLL_GET references on cr_region.addr and keeps them in a slot of the
 * per-file context until UNREGISTER or .release (GUP001: error). The device
 * also exports its own buffer through mmap.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "capring_uapi.h"

struct cr_slot {
	struct page **pages;
	int nr_pages;
};

struct cr_ctx {
	struct mutex lock;
	struct cr_slot slots[CR_MAX_SLOTS];
	void *ring;		/* CR_RING_BYTES, vmalloc_user */
	u8 seq;
};

static void cr_drop_slot(struct cr_slot *slot)
{
	int i;

	if (!slot->pages)
		return;
	for (i = 0; i < slot->nr_pages; i++) {
		set_page_dirty_lock(slot->pages[i]);
		put_page(slot->pages[i]);
	}
	kvfree(slot->pages);
	slot->pages = NULL;
	slot->nr_pages = 0;
}

static long cr_register(struct cr_ctx *ctx, const void __user *uarg)
{
	struct cr_region reg;
	struct cr_slot *slot;
	struct page **pages;
	int nr, got, i;
	long ret = 0;

	if (copy_from_user(&reg, uarg, sizeof(reg)))
		return -EFAULT;
	if (reg.slot >= CR_MAX_SLOTS)
		return -EINVAL;
	if (!reg.len || reg.len > CR_MAX_BYTES || reg.addr + reg.len < reg.addr)
		return -EINVAL;
	nr = DIV_ROUND_UP(offset_in_page(reg.addr) + reg.len, PAGE_SIZE);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	slot = &ctx->slots[array_index_nospec(reg.slot, CR_MAX_SLOTS)];
	if (slot->pages) {
		ret = -EBUSY;
		goto out;
	}
	got = get_user_pages_fast(reg.addr, nr, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != nr) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		ret = got < 0 ? got : -EFAULT;
		goto out;
	}
	/* Kept after the ioctl returns: dropped by UNREGISTER or .release. */
	slot->pages = pages;
	slot->nr_pages = nr;
	pages = NULL;
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

static void cr_capture(struct cr_ctx *ctx)
{
	int s, i;

	ctx->seq++;
	for (s = 0; s < CR_MAX_SLOTS; s++) {
		struct cr_slot *slot = &ctx->slots[s];

		for (i = 0; i < slot->nr_pages; i++) {
			void *va = kmap_local_page(slot->pages[i]);

			memset(va, ctx->seq, PAGE_SIZE);
			kunmap_local(va);
		}
	}
}

static long cr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cr_ctx *ctx = file->private_data;
	u32 idx;

	switch (cmd) {
	case CR_IOC_REGISTER:
		return cr_register(ctx, (const void __user *)arg);
	case CR_IOC_UNREGISTER:
		if (copy_from_user(&idx, (const void __user *)arg, sizeof(idx)))
			return -EFAULT;
		if (idx >= CR_MAX_SLOTS)
			return -EINVAL;
		mutex_lock(&ctx->lock);
		cr_drop_slot(&ctx->slots[array_index_nospec(idx, CR_MAX_SLOTS)]);
		mutex_unlock(&ctx->lock);
		return 0;
	case CR_IOC_CAPTURE:
		mutex_lock(&ctx->lock);
		cr_capture(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int cr_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct cr_ctx *ctx = file->private_data;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > CR_RING_BYTES)
		return -EINVAL;
	return remap_vmalloc_range(vma, ctx->ring, 0);
}

static int cr_open(struct inode *inode, struct file *file)
{
	struct cr_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->ring = vmalloc_user(CR_RING_BYTES);
	if (!ctx->ring) {
		kfree(ctx);
		return -ENOMEM;
	}
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int cr_release(struct inode *inode, struct file *file)
{
	struct cr_ctx *ctx = file->private_data;
	int s;

	for (s = 0; s < CR_MAX_SLOTS; s++)
		cr_drop_slot(&ctx->slots[s]);
	vfree(ctx->ring);
	kfree(ctx);
	return 0;
}

static const struct file_operations cr_fops = {
	.owner		= THIS_MODULE,
	.open		= cr_open,
	.release	= cr_release,
	.unlocked_ioctl	= cr_ioctl,
	.mmap		= cr_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice cr_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "capring",
	.fops	= &cr_fops,
};

module_misc_device(cr_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Capture ring (gupcheck GUP003 test case)");
