/*
 * GUP001 case "chunked-partial-pin": a large user buffer is pinned in chunks of
 * PH_CHUNK pages and each chunk is unpinned after use. In the positive, a short
 * chunk (0 < ret < chunk) returns without unpinning the ret pages it got; the
 * twins release the partial chunk before returning.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define PH_CHUNK		16
#define PH_MAX_PAGES		(1UL << 18)

struct ph_req {
	__u64 addr;		/* page aligned */
	__u64 nr_pages;
	__u64 hash;		/* out */
};

#define PH_IOC_MAGIC		'h'
#define PH_IOC_HASH		_IOWR(PH_IOC_MAGIC, 1, struct ph_req)
#define PH_IOC_HASH_SAFE	_IOWR(PH_IOC_MAGIC, 2, struct ph_req)
#define PH_IOC_ZERO		_IOW(PH_IOC_MAGIC, 3, struct ph_req)

static u64 ph_hash_pages(u64 h, struct page **pages, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const u64 *va = kmap_local_page(pages[i]);
		unsigned int j;

		for (j = 0; j < PAGE_SIZE / sizeof(u64); j++)
			h = (h ^ va[j]) * 0x100000001b3ULL;
		kunmap_local(va);
	}
	return h;
}

static int ph_get_req(struct ph_req *req, struct ph_req __user *ureq)
{
	if (copy_from_user(req, ureq, sizeof(*req)))
		return -EFAULT;
	if (!req->nr_pages || req->nr_pages > PH_MAX_PAGES || !PAGE_ALIGNED(req->addr))
		return -EINVAL;
	return 0;
}

/* Positive: a short chunk returns with ret pages still pinned. */
static long ph_hash(struct ph_req __user *ureq)
{
	struct page *pages[PH_CHUNK];
	struct ph_req req;
	unsigned long addr, left;
	u64 h = 0xcbf29ce484222325ULL;
	int chunk, ret;

	ret = ph_get_req(&req, ureq);
	if (ret)
		return ret;
	addr = req.addr;
	left = req.nr_pages;
	while (left) {
		chunk = min_t(unsigned long, left, PH_CHUNK);
		ret = pin_user_pages_fast(addr, chunk, 0, pages); /* expect: GUP001 */
		if (ret < chunk)
			return -EFAULT;
		h = ph_hash_pages(h, pages, chunk);
		unpin_user_pages(pages, chunk);
		addr += (unsigned long)chunk << PAGE_SHIFT;
		left -= chunk;
		cond_resched();
	}
	if (put_user(h, &ureq->hash))
		return -EFAULT;
	return 0;
}

/* Negative: the partial chunk is unpinned (nothing is pinned when ret <= 0). */
static long ph_hash_safe(struct ph_req __user *ureq)
{
	struct page *pages[PH_CHUNK];
	struct ph_req req;
	unsigned long addr, left;
	u64 h = 0xcbf29ce484222325ULL;
	int chunk, ret;

	ret = ph_get_req(&req, ureq);
	if (ret)
		return ret;
	addr = req.addr;
	left = req.nr_pages;
	while (left) {
		chunk = min_t(unsigned long, left, PH_CHUNK);
		ret = pin_user_pages_fast(addr, chunk, 0, pages);
		if (ret < chunk) {
			if (ret > 0)
				unpin_user_pages(pages, ret);
			return ret < 0 ? ret : -EFAULT;
		}
		h = ph_hash_pages(h, pages, chunk);
		unpin_user_pages(pages, chunk);
		addr += (unsigned long)chunk << PAGE_SHIFT;
		left -= chunk;
		cond_resched();
	}
	if (put_user(h, &ureq->hash))
		return -EFAULT;
	return 0;
}

/* Negative: FOLL_GET references, the partial chunk is put page by page. */
static long ph_zero(struct ph_req __user *ureq)
{
	struct page *pages[PH_CHUNK];
	struct ph_req req;
	unsigned long addr, left;
	int chunk, ret, i;

	ret = ph_get_req(&req, ureq);
	if (ret)
		return ret;
	addr = req.addr;
	left = req.nr_pages;
	while (left) {
		chunk = min_t(unsigned long, left, PH_CHUNK);
		ret = get_user_pages_fast(addr, chunk, FOLL_WRITE, pages);
		if (ret < 0)
			return ret;
		if (ret < chunk) {
			for (i = 0; i < ret; i++)
				put_page(pages[i]);
			return -EFAULT;
		}
		for (i = 0; i < chunk; i++) {
			clear_highpage(pages[i]);
			set_page_dirty_lock(pages[i]);
			put_page(pages[i]);
		}
		addr += (unsigned long)chunk << PAGE_SHIFT;
		left -= chunk;
		cond_resched();
	}
	return 0;
}

static long ph_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PH_IOC_HASH:
		return ph_hash(uarg);
	case PH_IOC_HASH_SAFE:
		return ph_hash_safe(uarg);
	case PH_IOC_ZERO:
		return ph_zero(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ph_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ph_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice ph_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "pagehash",
	.fops	= &ph_fops,
};

module_misc_device(ph_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("User buffer hasher (gupcheck GUP001 test case)");
