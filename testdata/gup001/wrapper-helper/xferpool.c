/*
 * GUP001 case "wrapper-helper": driver helpers wrap get_user_pages_fast (pages
 * leave through a parameter, or through the return value) and put_page. The
 * finding belongs at the call of the pinning helper where the pages are kept;
 * where the caller releases them through the unpin helper, all is clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define XFP_MAX_PAGES		256

struct xfp_range {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 seed;
};

#define XFP_IOC_MAGIC		'X'
#define XFP_IOC_ATTACH		_IOW(XFP_IOC_MAGIC, 1, struct xfp_range)
#define XFP_IOC_FILL		_IOW(XFP_IOC_MAGIC, 2, struct xfp_range)
#define XFP_IOC_STAGE		_IOW(XFP_IOC_MAGIC, 3, struct xfp_range)
#define XFP_IOC_VERIFY		_IOWR(XFP_IOC_MAGIC, 4, struct xfp_range)
#define XFP_IOC_DETACH		_IO(XFP_IOC_MAGIC, 5)

struct xfp_ctx {
	struct mutex lock;
	struct page **pages;	/* attached buffer */
	int nr_pages;
};

/* The staging buffer is shared by all openers. */
static DEFINE_MUTEX(xfp_stage_lock);
static struct page **xfp_stage_pages;
static int xfp_stage_nr;

/* Takes references on n pages at uaddr into pages[]; all or nothing. */
static int xfp_pin_range(unsigned long uaddr, int n, struct page **pages)
{
	int got, i;

	got = get_user_pages_fast(uaddr, n, FOLL_WRITE, pages);
	if (got < 0)
		return got;
	if (got != n) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		return -EFAULT;
	}
	return 0;
}

static void xfp_unpin_range(struct page **pages, int n)
{
	int i;

	for (i = 0; i < n; i++)
		put_page(pages[i]);
}

/* Allocates the page array and takes the references; returns it. */
static struct page **xfp_get_buffer(unsigned long uaddr, int n)
{
	struct page **pages;
	int ret;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	ret = xfp_pin_range(uaddr, n, pages);
	if (ret < 0) {
		kvfree(pages);
		return ERR_PTR(ret);
	}
	return pages;
}

static void xfp_put_buffer(struct page **pages, int n)
{
	xfp_unpin_range(pages, n);
	kvfree(pages);
}

static void xfp_pattern(struct page **pages, int n, u32 seed)
{
	int i;

	for (i = 0; i < n; i++) {
		u32 *va = kmap_local_page(pages[i]);
		unsigned int j;

		for (j = 0; j < PAGE_SIZE / sizeof(u32); j++)
			va[j] = seed + i * 1024 + j;
		kunmap_local(va);
		set_page_dirty_lock(pages[i]);
	}
}

static u32 xfp_checksum(struct page **pages, int n)
{
	u32 sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		u32 *va = kmap_local_page(pages[i]);
		unsigned int j;

		for (j = 0; j < PAGE_SIZE / sizeof(u32); j++)
			sum += va[j];
		kunmap_local(va);
	}
	return sum;
}

static long xfp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xfp_ctx *ctx = file->private_data;
	struct xfp_range __user *urange = (void __user *)arg;
	struct xfp_range r;
	struct page **pages;
	long ret;

	if (cmd == XFP_IOC_DETACH) {
		mutex_lock(&ctx->lock);
		if (ctx->pages) {
			xfp_put_buffer(ctx->pages, ctx->nr_pages);
			ctx->pages = NULL;
		}
		mutex_unlock(&ctx->lock);
		return 0;
	}

	if (copy_from_user(&r, urange, sizeof(r)))
		return -EFAULT;
	if (!r.nr_pages || r.nr_pages > XFP_MAX_PAGES || !PAGE_ALIGNED(r.addr))
		return -EINVAL;

	switch (cmd) {
	case XFP_IOC_ATTACH:
		/* Positive: the helper's references are kept in the per-file context */
		pages = kvmalloc_array(r.nr_pages, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		mutex_lock(&ctx->lock);
		if (ctx->pages) {
			ret = -EBUSY;
			goto out_unlock_free;
		}
		ret = xfp_pin_range(r.addr, r.nr_pages, pages); /* expect: GUP001 */
		if (ret < 0)
			goto out_unlock_free;
		ctx->pages = pages;
		ctx->nr_pages = r.nr_pages;
		mutex_unlock(&ctx->lock);
		return 0;
out_unlock_free:
		mutex_unlock(&ctx->lock);
		kvfree(pages);
		return ret;

	case XFP_IOC_FILL:
		/* Negative: filled, then released through the unpin helper */
		pages = kvmalloc_array(r.nr_pages, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		ret = xfp_pin_range(r.addr, r.nr_pages, pages);
		if (ret < 0) {
			kvfree(pages);
			return ret;
		}
		xfp_pattern(pages, r.nr_pages, r.seed);
		xfp_unpin_range(pages, r.nr_pages);
		kvfree(pages);
		return 0;

	case XFP_IOC_STAGE:
		/* Positive: the returned buffer is kept in a global */
		pages = xfp_get_buffer(r.addr, r.nr_pages); /* expect: GUP001 */
		if (IS_ERR(pages))
			return PTR_ERR(pages);
		mutex_lock(&xfp_stage_lock);
		if (xfp_stage_pages)
			xfp_put_buffer(xfp_stage_pages, xfp_stage_nr);
		xfp_stage_pages = pages;
		xfp_stage_nr = r.nr_pages;
		mutex_unlock(&xfp_stage_lock);
		return 0;

	case XFP_IOC_VERIFY:
		/* Negative: the returned buffer is put before returning */
		pages = xfp_get_buffer(r.addr, r.nr_pages);
		if (IS_ERR(pages))
			return PTR_ERR(pages);
		r.seed = xfp_checksum(pages, r.nr_pages);
		xfp_put_buffer(pages, r.nr_pages);
		if (copy_to_user(urange, &r, sizeof(r)))
			return -EFAULT;
		return 0;

	default:
		return -ENOTTY;
	}
}

static int xfp_open(struct inode *inode, struct file *file)
{
	struct xfp_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int xfp_release(struct inode *inode, struct file *file)
{
	struct xfp_ctx *ctx = file->private_data;

	if (ctx->pages)
		xfp_put_buffer(ctx->pages, ctx->nr_pages);
	kfree(ctx);
	return 0;
}

static const struct file_operations xfp_fops = {
	.owner		= THIS_MODULE,
	.open		= xfp_open,
	.release	= xfp_release,
	.unlocked_ioctl	= xfp_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xfp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xferpool",
	.fops	= &xfp_fops,
};

static int __init xfp_init(void)
{
	return misc_register(&xfp_misc);
}

static void __exit xfp_exit(void)
{
	misc_deregister(&xfp_misc);
	if (xfp_stage_pages)
		xfp_put_buffer(xfp_stage_pages, xfp_stage_nr);
}

module_init(xfp_init);
module_exit(xfp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Transfer pool (gupcheck GUP001 test case)");
