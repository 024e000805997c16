/*
 * GUP001 case "kept-by-frame-number": a device reads a user buffer through a list of page
 * frame numbers that the driver writes into a descriptor page (as hypervisor and firmware
 * interfaces want). The pages themselves are not kept anywhere: only their frame numbers
 * are, in the descriptor that lives until the file is closed, and .release finds the pages
 * again with pfn_to_page(). The positive takes FOLL_GET references for that; the look-alike
 * pins with FOLL_PIN | FOLL_LONGTERM, as a long-term registration must.
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

#define FL_PAGES		2

struct fl_descriptor {
	u64 frames[FL_PAGES];
	u32 nr_frames;
	u32 longterm;
};

struct fl_ctx {
	struct mutex lock;
	struct page *desc_page;		/* holds a struct fl_descriptor */
	u32 seq;
};

#define FL_IOC_REGISTER		_IOW('L', 1, __u64)
#define FL_IOC_REGISTER_LT	_IOW('L', 2, __u64)
#define FL_IOC_STAMP		_IO('L', 3)

static long fl_register(struct fl_ctx *ctx, u64 uaddr, bool longterm)
{
	struct page *pages[FL_PAGES];
	struct fl_descriptor *desc;
	struct page *desc_page;
	int got, i;

	if (!PAGE_ALIGNED(uaddr))
		return -EINVAL;
	if (ctx->desc_page)
		return -EBUSY;
	desc_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!desc_page)
		return -ENOMEM;
	desc = page_address(desc_page);
	if (longterm)
		got = pin_user_pages_fast(uaddr, FL_PAGES, FOLL_WRITE | FOLL_LONGTERM, pages);
	else
		got = get_user_pages_fast(uaddr, FL_PAGES, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != FL_PAGES) {
		if (got > 0 && longterm)
			unpin_user_pages(pages, got);
		else if (got > 0)
			release_pages(pages, got);
		__free_page(desc_page);
		return got < 0 ? got : -EFAULT;
	}
	for (i = 0; i < FL_PAGES; i++)
		desc->frames[i] = page_to_pfn(pages[i]);
	desc->nr_frames = FL_PAGES;
	desc->longterm = longterm;
	ctx->desc_page = desc_page;
	return 0;
}

/* What the device does with the list: write a sequence number at the start of each frame. */
static long fl_stamp(struct fl_ctx *ctx)
{
	struct fl_descriptor *desc;
	u32 i;

	if (!ctx->desc_page)
		return -ENXIO;
	desc = page_address(ctx->desc_page);
	ctx->seq++;
	for (i = 0; i < desc->nr_frames; i++) {
		u8 *data = kmap_local_page(pfn_to_page(desc->frames[i]));

		data[0] = (u8)(ctx->seq + i);
		kunmap_local(data);
	}
	return 0;
}

static long fl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct fl_ctx *ctx = file->private_data;
	u64 uaddr;
	long ret;

	if (cmd != FL_IOC_STAMP && copy_from_user(&uaddr, (void __user *)arg, sizeof(uaddr)))
		return -EFAULT;
	mutex_lock(&ctx->lock);
	switch (cmd) {
	case FL_IOC_REGISTER:
		ret = fl_register(ctx, uaddr, false);
		break;
	case FL_IOC_REGISTER_LT:
		ret = fl_register(ctx, uaddr, true);
		break;
	case FL_IOC_STAMP:
		ret = fl_stamp(ctx);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int fl_open(struct inode *inode, struct file *file)
{
	struct fl_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int fl_release(struct inode *inode, struct file *file)
{
	struct fl_ctx *ctx = file->private_data;
	struct fl_descriptor *desc;
	u32 i;

	if (ctx->desc_page) {
		desc = page_address(ctx->desc_page);
		for (i = 0; i < desc->nr_frames; i++) {
			struct page *page = pfn_to_page(desc->frames[i]);

			if (desc->longterm)
				unpin_user_pages_dirty_lock(&page, 1, true);
			else
				put_page(page);
		}
		__free_page(ctx->desc_page);
	}
	kfree(ctx);
	return 0;
}

static const struct file_operations fl_fops = {
	.owner		= THIS_MODULE,
	.open		= fl_open,
	.release	= fl_release,
	.unlocked_ioctl	= fl_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice fl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "framelist",
	.fops	= &fl_fops,
};
module_misc_device(fl_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 kept-by-frame-number");
