/*
 * GUP003 case "buffers-in-session-struct", driver side. RXSLOT_IOC_REGISTER hands a user
 * buffer to a receive slot: a helper takes FOLL_GET references on its pages into the slot's
 * region, and the ioctl keeps the slot until the file is closed. RXSLOT_IOC_FILL plays the
 * device, writing into every registered page.
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

#include "rxslot_uapi.h"

struct rxslot_pages {
	struct page **pages;
	unsigned int count;
};

struct rxslot_dev_file {
	struct mutex lock;
	struct rxslot_pages slots[RXSLOT_NR_SLOTS];
	u8 seq;
};

/* Takes references on the pages of [addr, addr + len) into `region`; 0 or -errno. */
static int rxslot_grab(struct rxslot_pages *region, u64 addr, u32 len)
{
	unsigned int count = DIV_ROUND_UP(len, PAGE_SIZE);
	struct page **pages;
	int got;

	pages = kcalloc(count, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = get_user_pages_fast(addr, count, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != count) {
		if (got > 0)
			release_pages(pages, got);
		kfree(pages);
		return got < 0 ? got : -EFAULT;
	}
	region->pages = pages;
	region->count = count;
	return 0;
}

static void rxslot_drop(struct rxslot_pages *region)
{
	if (!region->pages)
		return;
	release_pages(region->pages, region->count);
	kfree(region->pages);
	region->pages = NULL;
	region->count = 0;
}

static long rxslot_register(struct rxslot_dev_file *df, const void __user *uarg)
{
	struct rxslot_region req;
	long ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.slot >= RXSLOT_NR_SLOTS || !req.len || req.len > RXSLOT_MAX_BYTES ||
	    !PAGE_ALIGNED(req.addr))
		return -EINVAL;
	mutex_lock(&df->lock);
	rxslot_drop(&df->slots[req.slot]);
	ret = rxslot_grab(&df->slots[req.slot], req.addr, req.len);
	mutex_unlock(&df->lock);
	return ret;
}

static void rxslot_fill(struct rxslot_dev_file *df)
{
	unsigned int s, i;

	df->seq++;
	for (s = 0; s < RXSLOT_NR_SLOTS; s++) {
		for (i = 0; i < df->slots[s].count; i++) {
			u8 *data = kmap_local_page(df->slots[s].pages[i]);

			data[0] = df->seq;
			kunmap_local(data);
		}
	}
}

static long rxslot_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rxslot_dev_file *df = file->private_data;

	switch (cmd) {
	case RXSLOT_IOC_REGISTER:
		return rxslot_register(df, (const void __user *)arg);
	case RXSLOT_IOC_FILL:
		mutex_lock(&df->lock);
		rxslot_fill(df);
		mutex_unlock(&df->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int rxslot_open(struct inode *inode, struct file *file)
{
	struct rxslot_dev_file *df = kzalloc(sizeof(*df), GFP_KERNEL);

	if (!df)
		return -ENOMEM;
	mutex_init(&df->lock);
	file->private_data = df;
	return 0;
}

static int rxslot_release(struct inode *inode, struct file *file)
{
	struct rxslot_dev_file *df = file->private_data;
	unsigned int s;

	for (s = 0; s < RXSLOT_NR_SLOTS; s++)
		rxslot_drop(&df->slots[s]);
	kfree(df);
	return 0;
}

static const struct file_operations rxslot_fops = {
	.owner		= THIS_MODULE,
	.open		= rxslot_open,
	.release	= rxslot_release,
	.unlocked_ioctl	= rxslot_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice rxslot_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "rxslot",
	.fops	= &rxslot_fops,
};
module_misc_device(rxslot_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP003 buffers-in-session-struct");
