/*
 * GUP001 case "xarray-idr-remote": an accelerator keeps mapped buffers in an
 * xarray (slots) or an idr (buffers mapped in the opener's mm with the _remote
 * API). FOLL_LONGTERM pins are clean; pin_user_pages() without FOLL_LONGTERM
 * is a warning; get_user_pages_remote() references kept in the idr are an error.
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
#include <linux/sched/mm.h>
#include <linux/xarray.h>
#include <linux/idr.h>
#include <linux/uaccess.h>

#define NPU_MAX_PAGES		1024
#define NPU_NR_SLOTS		16

struct npu_map {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 slot;		/* MAP_SLOT*: slot index; MAP_REMOTE*: out, buffer id */
	__u32 flags;
#define NPU_MAP_WRITE	0x1
	__u32 pad;
};

#define NPU_IOC_MAGIC		'N'
#define NPU_IOC_MAP_SLOT	_IOWR(NPU_IOC_MAGIC, 1, struct npu_map)
#define NPU_IOC_MAP_SLOT_LT	_IOWR(NPU_IOC_MAGIC, 2, struct npu_map)
#define NPU_IOC_MAP_REMOTE	_IOWR(NPU_IOC_MAGIC, 3, struct npu_map)
#define NPU_IOC_MAP_REMOTE_LT	_IOWR(NPU_IOC_MAGIC, 4, struct npu_map)

struct npu_buf {
	struct page **pages;
	u32 nr_pages;
	bool foll_get;		/* put_page instead of unpin */
};

struct npu_ctx {
	struct mutex lock;
	struct mm_struct *mm;	/* the opener's mm, mmgrab()ed */
	struct xarray slots;
	struct idr remote;
};

static void npu_put_pages(struct page **pages, int nr, bool foll_get)
{
	int i;

	if (!foll_get) {
		unpin_user_pages(pages, nr);
		return;
	}
	for (i = 0; i < nr; i++)
		put_page(pages[i]);
}

static void npu_free_buf(struct npu_buf *buf)
{
	npu_put_pages(buf->pages, buf->nr_pages, buf->foll_get);
	kvfree(buf->pages);
	kfree(buf);
}

static long npu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct npu_ctx *ctx = file->private_data;
	struct npu_map __user *umap = (void __user *)arg;
	unsigned int gup_flags = FOLL_LONGTERM;
	struct npu_buf *buf, *old;
	struct page **pages;
	struct npu_map req;
	long got, ret;
	int id;

	if (cmd != NPU_IOC_MAP_SLOT && cmd != NPU_IOC_MAP_SLOT_LT &&
	    cmd != NPU_IOC_MAP_REMOTE && cmd != NPU_IOC_MAP_REMOTE_LT)
		return -ENOTTY;
	if (copy_from_user(&req, umap, sizeof(req)))
		return -EFAULT;
	if (!req.nr_pages || req.nr_pages > NPU_MAX_PAGES || !PAGE_ALIGNED(req.addr))
		return -EINVAL;
	if ((cmd == NPU_IOC_MAP_SLOT || cmd == NPU_IOC_MAP_SLOT_LT) && req.slot >= NPU_NR_SLOTS)
		return -EINVAL;
	if (req.flags & NPU_MAP_WRITE)
		gup_flags |= FOLL_WRITE;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	pages = kvmalloc_array(req.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		kfree(buf);
		return -ENOMEM;
	}
	buf->foll_get = cmd == NPU_IOC_MAP_REMOTE;

	switch (cmd) {
	case NPU_IOC_MAP_SLOT:
		/* Positive (warning): kept in the xarray, no FOLL_LONGTERM */
		mmap_read_lock(current->mm);
		got = pin_user_pages(req.addr, req.nr_pages, FOLL_WRITE, pages, NULL); /* expect: GUP001 */
		mmap_read_unlock(current->mm);
		break;
	case NPU_IOC_MAP_SLOT_LT:
		/* Negative: FOLL_LONGTERM on every path through gup_flags */
		got = pin_user_pages_fast(req.addr, req.nr_pages, gup_flags, pages);
		break;
	default:
		if (!mmget_not_zero(ctx->mm)) {
			got = -ESRCH;
			break;
		}
		mmap_read_lock(ctx->mm);
		if (cmd == NPU_IOC_MAP_REMOTE)	/* Positive: FOLL_GET kept in the idr */
			got = get_user_pages_remote(ctx->mm, req.addr, req.nr_pages, FOLL_WRITE, pages, NULL, NULL); /* expect: GUP001 */
		else				/* Negative: long-term pin kept in the idr */
			got = pin_user_pages_remote(ctx->mm, req.addr, req.nr_pages,
						    FOLL_WRITE | FOLL_LONGTERM, pages, NULL, NULL);
		mmap_read_unlock(ctx->mm);
		mmput(ctx->mm);
		break;
	}
	if (got < 0) {
		ret = got;
		goto err_free;
	}
	if (got != req.nr_pages) {
		npu_put_pages(pages, got, buf->foll_get);
		ret = -EFAULT;
		goto err_free;
	}
	buf->pages = pages;
	buf->nr_pages = req.nr_pages;

	mutex_lock(&ctx->lock);
	if (cmd == NPU_IOC_MAP_SLOT || cmd == NPU_IOC_MAP_SLOT_LT) {
		old = xa_store(&ctx->slots, req.slot, buf, GFP_KERNEL);
		if (xa_is_err(old)) {
			mutex_unlock(&ctx->lock);
			npu_free_buf(buf);
			return xa_err(old);
		}
		mutex_unlock(&ctx->lock);
		if (old)
			npu_free_buf(old);
		return 0;
	}
	id = idr_alloc(&ctx->remote, buf, 1, 0, GFP_KERNEL);
	mutex_unlock(&ctx->lock);
	if (id < 0) {
		npu_free_buf(buf);
		return id;
	}
	if (put_user((u32)id, &umap->slot))
		return -EFAULT;	/* stays mapped until close */
	return 0;

err_free:
	kvfree(pages);
	kfree(buf);
	return ret;
}

static int npu_open(struct inode *inode, struct file *file)
{
	struct npu_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	xa_init(&ctx->slots);
	idr_init(&ctx->remote);
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	file->private_data = ctx;
	return 0;
}

static int npu_release(struct inode *inode, struct file *file)
{
	struct npu_ctx *ctx = file->private_data;
	struct npu_buf *buf;
	unsigned long index;
	int id;

	xa_for_each(&ctx->slots, index, buf)
		npu_free_buf(buf);
	xa_destroy(&ctx->slots);
	idr_for_each_entry(&ctx->remote, buf, id)
		npu_free_buf(buf);
	idr_destroy(&ctx->remote);
	mmdrop(ctx->mm);
	kfree(ctx);
	return 0;
}

static const struct file_operations npu_fops = {
	.owner		= THIS_MODULE,
	.open		= npu_open,
	.release	= npu_release,
	.unlocked_ioctl	= npu_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice npu_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "npubuf",
	.fops	= &npu_fops,
};

module_misc_device(npu_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Accelerator buffer mapper (gupcheck GUP001 test case)");
