/*
 * GUP003 case "foll-pin-is-fork-safe", driver side: an accelerator maps user
 * memory for later use. AM_IOC_MAP pins it with pin_user_pages_fast(...,
 * FOLL_WRITE | FOLL_LONGTERM) and keeps it (clean for GUP001; fork-safe since
 * 5.9, fork copies FOLL_PIN-pinned anonymous pages eagerly). AM_IOC_MAP_LEGACY
 * keeps FOLL_GET references from get_user_pages_fast (GUP001: error).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "accmem_uapi.h"

struct am_mapping {
	struct page **pages;
	int nr_pages;
	bool foll_pin;		/* FOLL_PIN pin, else FOLL_GET references */
};

struct am_ctx {
	struct mutex lock;
	struct am_mapping maps[AM_MAX_MAPPINGS];
};

static void am_unmap(struct am_mapping *m)
{
	int i;

	if (!m->pages)
		return;
	if (m->foll_pin) {
		unpin_user_pages_dirty_lock(m->pages, m->nr_pages, true);
	} else {
		for (i = 0; i < m->nr_pages; i++) {
			set_page_dirty_lock(m->pages[i]);
			put_page(m->pages[i]);
		}
	}
	kvfree(m->pages);
	m->pages = NULL;
	m->nr_pages = 0;
}

static struct am_mapping *am_free_slot(struct am_ctx *ctx, u32 *handle)
{
	u32 i;

	for (i = 0; i < AM_MAX_MAPPINGS; i++) {
		if (!ctx->maps[i].pages) {
			*handle = i;
			return &ctx->maps[i];
		}
	}
	return NULL;
}

static int am_get_map(struct am_map *req, const void __user *uarg, int *nr)
{
	if (copy_from_user(req, uarg, sizeof(*req)))
		return -EFAULT;
	if (!req->len || req->len > AM_MAX_BYTES || req->addr + req->len < req->addr)
		return -EINVAL;
	*nr = DIV_ROUND_UP(offset_in_page(req->addr) + req->len, PAGE_SIZE);
	return 0;
}

/* Kept: long-term FOLL_PIN pin. */
static long am_map_pinned(struct am_ctx *ctx, void __user *uarg)
{
	struct am_mapping *m;
	struct am_map req;
	struct page **pages;
	int nr, pinned;
	long ret;

	ret = am_get_map(&req, uarg, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	mutex_lock(&ctx->lock);
	m = am_free_slot(ctx, &req.handle);
	if (!m) {
		ret = -ENOSPC;
		goto out;
	}
	pinned = pin_user_pages_fast(req.addr, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (pinned != nr) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		ret = pinned < 0 ? pinned : -EFAULT;
		goto out;
	}
	m->pages = pages;
	m->nr_pages = nr;
	m->foll_pin = true;
	pages = NULL;
	if (copy_to_user(uarg, &req, sizeof(req))) {
		am_unmap(m);
		ret = -EFAULT;
	}
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

/* Kept: FOLL_GET references (legacy). */
static long am_map_legacy(struct am_ctx *ctx, void __user *uarg)
{
	struct am_mapping *m;
	struct am_map req;
	struct page **pages;
	int nr, got, i;
	long ret;

	ret = am_get_map(&req, uarg, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	mutex_lock(&ctx->lock);
	m = am_free_slot(ctx, &req.handle);
	if (!m) {
		ret = -ENOSPC;
		goto out;
	}
	got = get_user_pages_fast(req.addr, nr, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != nr) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		ret = got < 0 ? got : -EFAULT;
		goto out;
	}
	m->pages = pages;
	m->nr_pages = nr;
	m->foll_pin = false;
	pages = NULL;
	if (copy_to_user(uarg, &req, sizeof(req))) {
		am_unmap(m);
		ret = -EFAULT;
	}
out:
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return ret;
}

static long am_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct am_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	u32 handle;

	switch (cmd) {
	case AM_IOC_MAP:
		return am_map_pinned(ctx, uarg);
	case AM_IOC_MAP_LEGACY:
		return am_map_legacy(ctx, uarg);
	case AM_IOC_UNMAP:
		if (copy_from_user(&handle, uarg, sizeof(handle)))
			return -EFAULT;
		if (handle >= AM_MAX_MAPPINGS)
			return -EINVAL;
		mutex_lock(&ctx->lock);
		am_unmap(&ctx->maps[array_index_nospec(handle, AM_MAX_MAPPINGS)]);
		mutex_unlock(&ctx->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int am_open(struct inode *inode, struct file *file)
{
	struct am_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int am_release(struct inode *inode, struct file *file)
{
	struct am_ctx *ctx = file->private_data;
	int i;

	for (i = 0; i < AM_MAX_MAPPINGS; i++)
		am_unmap(&ctx->maps[i]);
	kfree(ctx);
	return 0;
}

static const struct file_operations am_fops = {
	.owner		= THIS_MODULE,
	.open		= am_open,
	.release	= am_release,
	.unlocked_ioctl	= am_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice am_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "accmem",
	.fops	= &am_fops,
};

module_misc_device(am_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Accelerator memory mapper (gupcheck GUP003 test case)");
