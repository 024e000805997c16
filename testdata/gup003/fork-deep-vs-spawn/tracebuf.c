/*
 * GUP003 case "fork-deep-vs-spawn", driver side: TB_IOC_ATTACH takes FOLL_GET
 * references on tb_attach.addr and keeps them until DETACH or .release
 * (GUP001: error). TB_IOC_EMIT writes a record through the kept pages.
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

#include "tracebuf_uapi.h"

struct tb_ctx {
	struct mutex lock;
	struct page **pages;
	int nr_pages;
	unsigned int offset;	/* of the buffer in its first page */
	u64 records;
};

static void tb_detach(struct tb_ctx *ctx)
{
	if (!ctx->pages)
		return;
	release_pages(ctx->pages, ctx->nr_pages);
	kvfree(ctx->pages);
	ctx->pages = NULL;
	ctx->nr_pages = 0;
}

static long tb_attach(struct tb_ctx *ctx, const void __user *uarg)
{
	struct tb_attach att;
	struct page **pages;
	int nr, got;
	long ret = 0;

	if (copy_from_user(&att, uarg, sizeof(att)))
		return -EFAULT;
	if (att.len < sizeof(u64) || att.len > TB_MAX_BYTES || att.addr + att.len < att.addr)
		return -EINVAL;
	if (!IS_ALIGNED(att.addr, sizeof(u64)))
		return -EINVAL;
	nr = DIV_ROUND_UP(offset_in_page(att.addr) + att.len, PAGE_SIZE);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	if (ctx->pages) {
		ret = -EBUSY;
		goto out;
	}
	got = get_user_pages_fast(att.addr, nr, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != nr) {
		if (got > 0)
			release_pages(pages, got);
		ret = got < 0 ? got : -EFAULT;
		goto out;
	}
	/* Kept after the ioctl returns: dropped by DETACH or .release. */
	ctx->pages = pages;
	ctx->nr_pages = nr;
	ctx->offset = offset_in_page(att.addr);
	pages = NULL;
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

/* Writes the record count into the first 8 bytes of the trace buffer. */
static long tb_emit(struct tb_ctx *ctx)
{
	u8 *va;

	if (!ctx->pages)
		return -ENXIO;
	ctx->records++;
	va = kmap_local_page(ctx->pages[0]);
	memcpy(va + ctx->offset, &ctx->records, sizeof(ctx->records));
	kunmap_local(va);
	set_page_dirty_lock(ctx->pages[0]);
	return 0;
}

static long tb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct tb_ctx *ctx = file->private_data;
	long ret;

	switch (cmd) {
	case TB_IOC_ATTACH:
		return tb_attach(ctx, (const void __user *)arg);
	case TB_IOC_DETACH:
		mutex_lock(&ctx->lock);
		tb_detach(ctx);
		mutex_unlock(&ctx->lock);
		return 0;
	case TB_IOC_EMIT:
		mutex_lock(&ctx->lock);
		ret = tb_emit(ctx);
		mutex_unlock(&ctx->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int tb_open(struct inode *inode, struct file *file)
{
	struct tb_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int tb_release(struct inode *inode, struct file *file)
{
	struct tb_ctx *ctx = file->private_data;

	tb_detach(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations tb_fops = {
	.owner		= THIS_MODULE,
	.open		= tb_open,
	.release	= tb_release,
	.unlocked_ioctl	= tb_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice tb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "tracebuf",
	.fops	= &tb_fops,
};

module_misc_device(tb_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trace buffer (gupcheck GUP003 test case)");
