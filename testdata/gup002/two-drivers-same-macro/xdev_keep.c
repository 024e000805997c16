/*
 * GUP002 case "two-drivers-same-macro", first driver: XDEV_IOC_REGISTER
 * ('X', 1) pins buf.addr long-term and keeps it until XDEV_IOC_RELEASE or
 * .release (clean for GUP001). xdev_oneshot.c defines a command with the same
 * macro name and a different value that does not keep its pin.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#include "xdev_keep_uapi.h"

struct xkeep_ctx {
	struct mutex lock;
	struct page **pages;
	int nr_pages;
};

static void xkeep_drop(struct xkeep_ctx *ctx)
{
	if (!ctx->pages)
		return;
	unpin_user_pages_dirty_lock(ctx->pages, ctx->nr_pages, true);
	kvfree(ctx->pages);
	ctx->pages = NULL;
	ctx->nr_pages = 0;
}

static long xkeep_register(struct xkeep_ctx *ctx, const void __user *uarg)
{
	struct xdev_buf buf;
	struct page **pages;
	int nr, pinned;
	long ret = 0;

	if (copy_from_user(&buf, uarg, sizeof(buf)))
		return -EFAULT;
	if (!buf.len || buf.len > XDEV_MAX_BYTES || buf.addr + buf.len < buf.addr)
		return -EINVAL;
	nr = DIV_ROUND_UP(offset_in_page(buf.addr) + buf.len, PAGE_SIZE);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	if (ctx->pages) {
		ret = -EBUSY;
		goto out;
	}
	pinned = pin_user_pages_fast(buf.addr, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (pinned != nr) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		ret = pinned < 0 ? pinned : -EFAULT;
		goto out;
	}
	/* Kept until XDEV_IOC_RELEASE or .release. */
	ctx->pages = pages;
	ctx->nr_pages = nr;
	pages = NULL;
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

static long xkeep_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xkeep_ctx *ctx = file->private_data;

	switch (cmd) {
	case XDEV_IOC_REGISTER:
		return xkeep_register(ctx, (const void __user *)arg);
	case XDEV_IOC_RELEASE:
		mutex_lock(&ctx->lock);
		xkeep_drop(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int xkeep_open(struct inode *inode, struct file *file)
{
	struct xkeep_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int xkeep_release(struct inode *inode, struct file *file)
{
	struct xkeep_ctx *ctx = file->private_data;

	xkeep_drop(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations xkeep_fops = {
	.owner		= THIS_MODULE,
	.open		= xkeep_open,
	.release	= xkeep_release,
	.unlocked_ioctl	= xkeep_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xkeep_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xdev_keep",
	.fops	= &xkeep_fops,
};

module_misc_device(xkeep_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xdev, keeping variant (gupcheck GUP002 test case)");
