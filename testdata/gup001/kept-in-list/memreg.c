/*
 * GUP001 case "kept-in-list": memory regions registered by ioctl are linked
 * into the per-file region list (list_add of a struct holding the pages) and
 * released by MEMREG_IOC_DEREG or .release. The FOLL_GET variant is an error;
 * its twin pins with pin_user_pages_fast(FOLL_LONGTERM) and is clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#define MEMREG_MAX_PAGES	4096
#define MEMREG_MAX_REGIONS	64

struct memreg_req {
	__u64 addr;
	__u64 len;
	__u32 handle;		/* out */
	__u32 pad;
};

#define MEMREG_IOC_MAGIC	'M'
#define MEMREG_IOC_REG_GET	_IOWR(MEMREG_IOC_MAGIC, 1, struct memreg_req)
#define MEMREG_IOC_REG_PIN	_IOWR(MEMREG_IOC_MAGIC, 2, struct memreg_req)
#define MEMREG_IOC_DEREG	_IOW(MEMREG_IOC_MAGIC, 3, __u32)

struct memreg_region {
	struct list_head node;
	u32 handle;
	bool longterm;		/* FOLL_PIN: unpin; otherwise put_page */
	int nr_pages;
	struct page **pages;
};

struct memreg_ctx {
	struct mutex lock;
	struct list_head regions;
	unsigned int nr_regions;
	u32 next_handle;
};

static void memreg_put_pages(struct page **pages, int nr, bool longterm)
{
	int i;

	if (longterm) {
		unpin_user_pages_dirty_lock(pages, nr, true);
		return;
	}
	for (i = 0; i < nr; i++) {
		set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
}

static void memreg_free_region(struct memreg_region *region)
{
	memreg_put_pages(region->pages, region->nr_pages, region->longterm);
	kvfree(region->pages);
	kfree(region);
}

static long memreg_dereg(struct memreg_ctx *ctx, u32 __user *uhandle)
{
	struct memreg_region *region;
	u32 handle;

	if (get_user(handle, uhandle))
		return -EFAULT;
	mutex_lock(&ctx->lock);
	list_for_each_entry(region, &ctx->regions, node) {
		if (region->handle == handle) {
			list_del(&region->node);
			ctx->nr_regions--;
			mutex_unlock(&ctx->lock);
			memreg_free_region(region);
			return 0;
		}
	}
	mutex_unlock(&ctx->lock);
	return -ENOENT;
}

static long memreg_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct memreg_ctx *ctx = file->private_data;
	struct memreg_req __user *ureq = (void __user *)arg;
	struct memreg_region *region;
	struct memreg_req req;
	struct page **pages;
	bool longterm;
	int nr, got;
	long ret;

	switch (cmd) {
	case MEMREG_IOC_REG_GET:
		longterm = false;
		break;
	case MEMREG_IOC_REG_PIN:
		longterm = true;
		break;
	case MEMREG_IOC_DEREG:
		return memreg_dereg(ctx, (u32 __user *)arg);
	default:
		return -ENOTTY;
	}

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (!req.len || !PAGE_ALIGNED(req.addr) || !PAGE_ALIGNED(req.len))
		return -EINVAL;
	if (req.len >> PAGE_SHIFT > MEMREG_MAX_PAGES)
		return -EINVAL;
	nr = req.len >> PAGE_SHIFT;

	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		return -ENOMEM;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		kfree(region);
		return -ENOMEM;
	}

	if (longterm)	/* Negative: long-term pin kept in the list */
		got = pin_user_pages_fast(req.addr, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	else		/* Positive: FOLL_GET references kept in the list */
		got = get_user_pages_fast(req.addr, nr, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got < 0) {
		ret = got;
		goto err_free;
	}
	if (got != nr) {
		memreg_put_pages(pages, got, longterm);
		ret = -EFAULT;
		goto err_free;
	}

	region->pages = pages;
	region->nr_pages = nr;
	region->longterm = longterm;

	mutex_lock(&ctx->lock);
	if (ctx->nr_regions >= MEMREG_MAX_REGIONS) {
		mutex_unlock(&ctx->lock);
		memreg_put_pages(pages, nr, longterm);
		ret = -ENOSPC;
		goto err_free;
	}
	region->handle = ++ctx->next_handle;
	list_add(&region->node, &ctx->regions);
	ctx->nr_regions++;
	req.handle = region->handle;
	mutex_unlock(&ctx->lock);

	if (put_user(req.handle, &ureq->handle))
		return -EFAULT;	/* still registered; freed by DEREG or .release */
	return 0;

err_free:
	kvfree(pages);
	kfree(region);
	return ret;
}

static int memreg_open(struct inode *inode, struct file *file)
{
	struct memreg_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->regions);
	file->private_data = ctx;
	return 0;
}

static int memreg_release(struct inode *inode, struct file *file)
{
	struct memreg_ctx *ctx = file->private_data;
	struct memreg_region *region, *tmp;

	list_for_each_entry_safe(region, tmp, &ctx->regions, node) {
		list_del(&region->node);
		memreg_free_region(region);
	}
	kfree(ctx);
	return 0;
}

static const struct file_operations memreg_fops = {
	.owner		= THIS_MODULE,
	.open		= memreg_open,
	.release	= memreg_release,
	.unlocked_ioctl	= memreg_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice memreg_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "memreg",
	.fops	= &memreg_fops,
};

module_misc_device(memreg_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Memory region registry (gupcheck GUP001 test case)");
