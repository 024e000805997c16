/*
 * GUP001 case "get-kept-in-private-data": a frame grabber takes FOLL_GET
 * references on the user's capture buffer in an ioctl, keeps them in the
 * per-file context (file->private_data) and drops them in .release (error).
 * The one-shot snapshot ioctl drops its references with release_pages (clean).
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

#define FG_FRAME_SIZE		(640 * 480 * 2)
#define FG_FRAME_PAGES		PFN_UP(FG_FRAME_SIZE)

#define FG_IOC_MAGIC		'F'
#define FG_IOC_SET_BUFFER	_IOW(FG_IOC_MAGIC, 1, __u64)
#define FG_IOC_CAPTURE		_IO(FG_IOC_MAGIC, 2)
#define FG_IOC_SNAPSHOT		_IOW(FG_IOC_MAGIC, 3, __u64)

struct fg_ctx {
	struct mutex lock;
	struct page **pages;	/* capture buffer, FG_FRAME_PAGES pages */
	u32 seq;
};

static void fg_render(struct page **pages, u32 seq)
{
	unsigned int i;

	for (i = 0; i < FG_FRAME_PAGES; i++) {
		u8 *va = kmap_local_page(pages[i]);

		memset(va, (u8)(seq + i), PAGE_SIZE);
		kunmap_local(va);
		set_page_dirty_lock(pages[i]);
	}
}

static void fg_drop_buffer(struct fg_ctx *ctx)
{
	unsigned int i;

	if (!ctx->pages)
		return;
	for (i = 0; i < FG_FRAME_PAGES; i++)
		put_page(ctx->pages[i]);
	kfree(ctx->pages);
	ctx->pages = NULL;
}

static long fg_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct fg_ctx *ctx = file->private_data;
	struct page **pages;
	u64 uaddr;
	int got;
	long ret = 0;

	switch (cmd) {
	case FG_IOC_SET_BUFFER:
		/* Positive: FOLL_GET references kept until .release */
		if (copy_from_user(&uaddr, (void __user *)arg, sizeof(uaddr)))
			return -EFAULT;
		if (!PAGE_ALIGNED(uaddr))
			return -EINVAL;
		pages = kcalloc(FG_FRAME_PAGES, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		mutex_lock(&ctx->lock);
		if (ctx->pages) {
			mutex_unlock(&ctx->lock);
			kfree(pages);
			return -EBUSY;
		}
		got = get_user_pages_fast(uaddr, FG_FRAME_PAGES, FOLL_WRITE, pages); /* expect: GUP001 */
		if (got < 0) {
			ret = got;
		} else if (got != FG_FRAME_PAGES) {
			release_pages(pages, got);
			ret = -EFAULT;
		} else {
			ctx->pages = pages;
			pages = NULL;
		}
		mutex_unlock(&ctx->lock);
		kfree(pages);
		return ret;

	case FG_IOC_CAPTURE:
		mutex_lock(&ctx->lock);
		if (ctx->pages)
			fg_render(ctx->pages, ++ctx->seq);
		else
			ret = -ENXIO;
		mutex_unlock(&ctx->lock);
		return ret;

	case FG_IOC_SNAPSHOT:
		/* Negative: one frame written, references dropped before returning */
		if (copy_from_user(&uaddr, (void __user *)arg, sizeof(uaddr)))
			return -EFAULT;
		if (!PAGE_ALIGNED(uaddr))
			return -EINVAL;
		pages = kcalloc(FG_FRAME_PAGES, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		got = get_user_pages_fast(uaddr, FG_FRAME_PAGES, FOLL_WRITE, pages);
		if (got == FG_FRAME_PAGES) {
			mutex_lock(&ctx->lock);
			fg_render(pages, ++ctx->seq);
			mutex_unlock(&ctx->lock);
		} else {
			ret = got < 0 ? got : -EFAULT;
		}
		if (got > 0)
			release_pages(pages, got);
		kfree(pages);
		return ret;

	default:
		return -ENOTTY;
	}
}

static int fg_open(struct inode *inode, struct file *file)
{
	struct fg_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int fg_release(struct inode *inode, struct file *file)
{
	struct fg_ctx *ctx = file->private_data;

	fg_drop_buffer(ctx);
	kfree(ctx);
	return 0;
}

static const struct file_operations fg_fops = {
	.owner		= THIS_MODULE,
	.open		= fg_open,
	.release	= fg_release,
	.unlocked_ioctl	= fg_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice fg_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "framegrab",
	.fops	= &fg_fops,
};

module_misc_device(fg_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Frame grabber (gupcheck GUP001 test case)");
