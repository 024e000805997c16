/*
 * GUP002 case "stack-array-via-field", driver side: the user buffer address
 * is the `addr` field of the request copied in from the ioctl argument.
 * REGISTER pins it long-term (FOLL_PIN | FOLL_LONGTERM) and keeps it in the
 * per-file context: a proper long-term pin, clean for GUP001. FILL_ONCE pins
 * it only for the duration of the call.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#include "ringreg_uapi.h"

struct rr_ctx {
	struct mutex lock;
	struct page **pages;	/* registered region */
	int nr_pages;
	u8 seq;
};

static int rr_get_region(struct rr_region *reg, const void __user *uarg, int *nr)
{
	if (copy_from_user(reg, uarg, sizeof(*reg)))
		return -EFAULT;
	if (!reg->len || reg->len > RR_MAX_BYTES)
		return -EINVAL;
	if (reg->addr + reg->len < reg->addr)
		return -EINVAL;
	*nr = DIV_ROUND_UP(offset_in_page(reg->addr) + reg->len, PAGE_SIZE);
	return 0;
}

static void rr_fill_pages(struct page **pages, int nr, u8 value)
{
	int i;

	for (i = 0; i < nr; i++) {
		void *va = kmap_local_page(pages[i]);

		memset(va, value, PAGE_SIZE);
		kunmap_local(va);
	}
}

static void rr_unregister(struct rr_ctx *ctx)
{
	if (!ctx->pages)
		return;
	unpin_user_pages_dirty_lock(ctx->pages, ctx->nr_pages, true);
	kvfree(ctx->pages);
	ctx->pages = NULL;
	ctx->nr_pages = 0;
}

/* Kept: long-term pin stored in the per-file context. */
static long rr_register(struct rr_ctx *ctx, const void __user *uarg)
{
	struct rr_region reg;
	struct page **pages;
	int nr, pinned;
	long ret;

	ret = rr_get_region(&reg, uarg, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	mutex_lock(&ctx->lock);
	if (ctx->pages) {
		ret = -EBUSY;
		goto out_free;
	}
	pinned = pin_user_pages_fast(reg.addr, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (pinned < 0) {
		ret = pinned;
		goto out_free;
	}
	if (pinned != nr) {
		unpin_user_pages(pages, pinned);
		ret = -EFAULT;
		goto out_free;
	}
	ctx->pages = pages;
	ctx->nr_pages = nr;
	mutex_unlock(&ctx->lock);
	return 0;

out_free:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

/* Released: pinned, filled and unpinned within the call. */
static long rr_fill_once(const void __user *uarg)
{
	struct rr_region reg;
	struct page **pages;
	int nr, pinned;
	long ret;

	ret = rr_get_region(&reg, uarg, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(reg.addr, nr, FOLL_WRITE, pages);
	if (pinned < 0) {
		kvfree(pages);
		return pinned;
	}
	if (pinned == nr)
		rr_fill_pages(pages, nr, (u8)reg.fill);
	else
		ret = -EFAULT;
	unpin_user_pages_dirty_lock(pages, pinned, pinned == nr);
	kvfree(pages);
	return ret;
}

static long rr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rr_ctx *ctx = file->private_data;
	const void __user *uarg = (const void __user *)arg;
	long ret = 0;

	switch (cmd) {
	case RR_IOC_REGISTER:
		return rr_register(ctx, uarg);
	case RR_IOC_FILL_ONCE:
		return rr_fill_once(uarg);
	case RR_IOC_UNREGISTER:
		mutex_lock(&ctx->lock);
		rr_unregister(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	case RR_IOC_KICK:
		mutex_lock(&ctx->lock);
		if (ctx->pages)
			rr_fill_pages(ctx->pages, ctx->nr_pages, ++ctx->seq);
		else
			ret = -ENXIO;
		mutex_unlock(&ctx->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int rr_open(struct inode *inode, struct file *file)
{
	struct rr_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int rr_release(struct inode *inode, struct file *file)
{
	struct rr_ctx *ctx = file->private_data;

	rr_unregister(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations rr_fops = {
	.owner		= THIS_MODULE,
	.open		= rr_open,
	.release	= rr_release,
	.unlocked_ioctl	= rr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice rr_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ringreg",
	.fops	= &rr_fops,
};

module_misc_device(rr_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Ring region registration (gupcheck GUP002 test case)");
