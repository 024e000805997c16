/*
 * GUP002 case "stack-array-direct", driver side: the ioctl argument is the
 * user address itself. ATTACH takes a FOLL_GET reference on the page holding
 * it and keeps it in the per-file context until DETACH or .release (GUP001:
 * error). POKE takes a reference, writes once and drops it before returning.
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

#include "pagepoke_uapi.h"

struct pp_ctx {
	struct mutex lock;
	struct page *page;	/* attached mailbox page */
	unsigned int offset;	/* mailbox offset in that page */
	u32 seq;
};

static void pp_stamp(struct page *page, unsigned int offset, u32 seq)
{
	u8 *va = kmap_local_page(page);

	memcpy(va + offset, &seq, sizeof(seq));
	kunmap_local(va);
	set_page_dirty_lock(page);
}

static void pp_detach(struct pp_ctx *ctx)
{
	if (!ctx->page)
		return;
	put_page(ctx->page);
	ctx->page = NULL;
}

static long pp_attach(struct pp_ctx *ctx, unsigned long arg)
{
	struct page *page;
	int got;

	if (offset_in_page(arg) > PAGE_SIZE - sizeof(u32))
		return -EINVAL;
	mutex_lock(&ctx->lock);
	if (ctx->page) {
		mutex_unlock(&ctx->lock);
		return -EBUSY;
	}
	got = get_user_pages_fast(arg, 1, FOLL_WRITE, &page); /* expect: GUP001 */
	if (got != 1) {
		mutex_unlock(&ctx->lock);
		return got < 0 ? got : -EFAULT;
	}
	/* Kept after the ioctl returns: dropped by DETACH or .release. */
	ctx->page = page;
	ctx->offset = offset_in_page(arg);
	mutex_unlock(&ctx->lock);
	return 0;
}

static long pp_poke(struct pp_ctx *ctx, unsigned long arg)
{
	struct page *page;
	int got;

	if (offset_in_page(arg) > PAGE_SIZE - sizeof(u32))
		return -EINVAL;
	got = get_user_pages_fast(arg, 1, FOLL_WRITE, &page);
	if (got != 1)
		return got < 0 ? got : -EFAULT;
	mutex_lock(&ctx->lock);
	pp_stamp(page, offset_in_page(arg), ++ctx->seq);
	mutex_unlock(&ctx->lock);
	put_page(page);		/* released before returning */
	return 0;
}

static long pp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pp_ctx *ctx = file->private_data;
	long ret = 0;

	switch (cmd) {
	case PP_IOC_ATTACH:
		return pp_attach(ctx, arg);
	case PP_IOC_POKE:
		return pp_poke(ctx, arg);
	case PP_IOC_DETACH:
		mutex_lock(&ctx->lock);
		pp_detach(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	case PP_IOC_TICK:
		mutex_lock(&ctx->lock);
		if (ctx->page)
			pp_stamp(ctx->page, ctx->offset, ++ctx->seq);
		else
			ret = -ENXIO;
		mutex_unlock(&ctx->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int pp_open(struct inode *inode, struct file *file)
{
	struct pp_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int pp_release(struct inode *inode, struct file *file)
{
	struct pp_ctx *ctx = file->private_data;

	pp_detach(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations pp_fops = {
	.owner		= THIS_MODULE,
	.open		= pp_open,
	.release	= pp_release,
	.unlocked_ioctl	= pp_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice pp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "pagepoke",
	.fops	= &pp_fops,
};

module_misc_device(pp_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mailbox page poker (gupcheck GUP002 test case)");
