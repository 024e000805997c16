/*
 * GUP001 case "reused-status": an ioctl stamps a header into a user buffer. It pins
 * the buffer, checks the header the caller left there, then writes the stamp and
 * unpins. The status variable `ret` is tested before the pin and tested again after
 * the header check has put a new value in it. In the positive, a bad header returns
 * with every page still pinned; the look-alikes unpin on that path (one through a
 * cleanup label that tests the pages array it allocated, as `if (pages)`).
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

#define STAMP_MAGIC		0x53544d50U	/* "STMP" */
#define STAMP_MAX_PAGES		64

struct stamp_req {
	__u64 addr;		/* page aligned; the first word holds STAMP_MAGIC */
	__u32 nr_pages;
	__u32 stamp;
};

#define STAMP_IOC_MAGIC		's'
#define STAMP_IOC_APPLY		_IOW(STAMP_IOC_MAGIC, 1, struct stamp_req)
#define STAMP_IOC_APPLY_V2	_IOW(STAMP_IOC_MAGIC, 2, struct stamp_req)
#define STAMP_IOC_APPLY_V3	_IOW(STAMP_IOC_MAGIC, 3, struct stamp_req)

static DEFINE_MUTEX(stamp_lock);

static long stamp_get_req(struct stamp_req *req, const void __user *ureq)
{
	if (copy_from_user(req, ureq, sizeof(*req)))
		return -EFAULT;
	if (!req->nr_pages || req->nr_pages > STAMP_MAX_PAGES || !PAGE_ALIGNED(req->addr))
		return -EINVAL;
	return 0;
}

/* 0 when the buffer starts with STAMP_MAGIC, else -EBADMSG. */
static long stamp_check_header(struct page *first)
{
	u32 *word = kmap_local_page(first);
	long ret = *word == STAMP_MAGIC ? 0 : -EBADMSG;

	kunmap_local(word);
	return ret;
}

static void stamp_write(struct page **pages, unsigned int nr, u32 stamp)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		u32 *word = kmap_local_page(pages[i]);

		word[1] = stamp;
		kunmap_local(word);
	}
}

/* Positive: a bad header returns without unpinning. */
static long stamp_apply(const void __user *ureq)
{
	struct stamp_req req;
	struct page **pages;
	long ret;
	int pinned;

	ret = stamp_get_req(&req, ureq);
	if (ret)
		return ret;
	pages = kcalloc(req.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(req.addr, req.nr_pages, FOLL_WRITE, pages); /* expect: GUP001 */
	if (pinned != req.nr_pages) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		kfree(pages);
		return -EFAULT;
	}
	ret = stamp_check_header(pages[0]);
	if (ret) {
		kfree(pages);
		return ret;
	}
	stamp_write(pages, req.nr_pages, req.stamp);
	unpin_user_pages_dirty_lock(pages, req.nr_pages, true);
	kfree(pages);
	return 0;
}

/* Negative: the same, unpinning when the header is bad. */
static long stamp_apply_v2(const void __user *ureq)
{
	struct stamp_req req;
	struct page **pages;
	long ret;
	int pinned;

	ret = stamp_get_req(&req, ureq);
	if (ret)
		return ret;
	pages = kcalloc(req.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(req.addr, req.nr_pages, FOLL_WRITE, pages);
	if (pinned != req.nr_pages) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		kfree(pages);
		return -EFAULT;
	}
	ret = stamp_check_header(pages[0]);
	if (ret) {
		unpin_user_pages(pages, req.nr_pages);
		kfree(pages);
		return ret;
	}
	stamp_write(pages, req.nr_pages, req.stamp);
	unpin_user_pages_dirty_lock(pages, req.nr_pages, true);
	kfree(pages);
	return 0;
}

/* Negative: one cleanup label, which unpins whatever was pinned when the array exists. */
static long stamp_apply_v3(const void __user *ureq)
{
	struct stamp_req req;
	struct page **pages;
	long ret;
	int pinned = 0;

	ret = stamp_get_req(&req, ureq);
	if (ret)
		return ret;
	pages = kcalloc(req.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(req.addr, req.nr_pages, FOLL_WRITE, pages);
	if (pinned != req.nr_pages) {
		ret = -EFAULT;
		goto out;
	}
	ret = stamp_check_header(pages[0]);
	if (ret)
		goto out;
	stamp_write(pages, req.nr_pages, req.stamp);
out:
	if (pages) {
		if (pinned > 0)
			unpin_user_pages_dirty_lock(pages, pinned, !ret);
		kfree(pages);
	}
	return ret;
}

static long stamp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const void __user *uarg = (const void __user *)arg;
	long ret;

	mutex_lock(&stamp_lock);
	switch (cmd) {
	case STAMP_IOC_APPLY:
		ret = stamp_apply(uarg);
		break;
	case STAMP_IOC_APPLY_V2:
		ret = stamp_apply_v2(uarg);
		break;
	case STAMP_IOC_APPLY_V3:
		ret = stamp_apply_v3(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&stamp_lock);
	return ret;
}

static const struct file_operations stamp_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= stamp_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice stamp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "stamp",
	.fops	= &stamp_fops,
};
module_misc_device(stamp_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 reused-status");
