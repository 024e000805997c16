/*
 * GUP003 case "library-no-main", driver side: NICQ_IOC_RX_ATTACH takes FOLL_GET
 * references with get_user_pages() under the mmap lock and keeps them until
 * RX_DETACH or .release (GUP001: error).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "nicq_uapi.h"

struct nicq_ctx {
	struct mutex lock;
	struct page **pages;
	unsigned long nr_pages;
};

static void nicq_rx_detach(struct nicq_ctx *ctx)
{
	if (!ctx->pages)
		return;
	release_pages(ctx->pages, ctx->nr_pages);
	kvfree(ctx->pages);
	ctx->pages = NULL;
	ctx->nr_pages = 0;
}

static long nicq_rx_attach(struct nicq_ctx *ctx, const void __user *uarg)
{
	struct nicq_rx_ring ring;
	struct page **pages;
	unsigned long nr;
	long got, ret = 0;

	if (copy_from_user(&ring, uarg, sizeof(ring)))
		return -EFAULT;
	if (!ring.len || ring.len > NICQ_MAX_BYTES)
		return -EINVAL;
	if (!PAGE_ALIGNED(ring.addr) || !PAGE_ALIGNED(ring.len))
		return -EINVAL;
	nr = ring.len >> PAGE_SHIFT;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	if (ctx->pages) {
		ret = -EBUSY;
		goto out;
	}
	mmap_read_lock(current->mm);
	got = get_user_pages(ring.addr, nr, FOLL_WRITE, pages, NULL); /* expect: GUP001 */
	mmap_read_unlock(current->mm);
	if (got != nr) {
		if (got > 0)
			release_pages(pages, got);
		ret = got < 0 ? got : -EFAULT;
		goto out;
	}
	/* Kept after the ioctl returns: dropped by RX_DETACH or .release. */
	ctx->pages = pages;
	ctx->nr_pages = nr;
	pages = NULL;
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

static long nicq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct nicq_ctx *ctx = file->private_data;

	switch (cmd) {
	case NICQ_IOC_RX_ATTACH:
		return nicq_rx_attach(ctx, (const void __user *)arg);
	case NICQ_IOC_RX_DETACH:
		mutex_lock(&ctx->lock);
		nicq_rx_detach(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int nicq_open(struct inode *inode, struct file *file)
{
	struct nicq_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int nicq_release(struct inode *inode, struct file *file)
{
	struct nicq_ctx *ctx = file->private_data;

	nicq_rx_detach(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations nicq_fops = {
	.owner		= THIS_MODULE,
	.open		= nicq_open,
	.release	= nicq_release,
	.unlocked_ioctl	= nicq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice nicq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "nicq",
	.fops	= &nicq_fops,
};

module_misc_device(nicq_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("NIC receive queue (gupcheck GUP003 test case)");
