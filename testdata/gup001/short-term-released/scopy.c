/*
 * GUP001 case "short-term-released": user pages are pinned only for the
 * duration of one copy and dropped before the ioctl returns, with FOLL_GET
 * references (put_page loop) and with FOLL_PIN (unpin_user_pages): clean.
 * One look-alike returns early after pinning and never unpins (leak).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define SCOPY_BUF_SIZE		(1024 * 1024)
#define SCOPY_MAX_XFER		(256 * 1024)

struct scopy_xfer {
	__u64 user_addr;
	__u64 length;
	__u64 dev_offset;
};

struct scopy_word {
	__u64 user_addr;	/* must be 8-byte aligned */
	__u64 dev_offset;
};

#define SCOPY_IOC_MAGIC		'S'
#define SCOPY_IOC_READ		_IOW(SCOPY_IOC_MAGIC, 1, struct scopy_xfer)
#define SCOPY_IOC_WRITE		_IOW(SCOPY_IOC_MAGIC, 2, struct scopy_xfer)
#define SCOPY_IOC_READ_WORD	_IOW(SCOPY_IOC_MAGIC, 3, struct scopy_word)
#define SCOPY_IOC_WRITE_CHECKED	_IOW(SCOPY_IOC_MAGIC, 4, struct scopy_xfer)

struct scopy_dev {
	struct mutex lock;
	u8 *buf;		/* device memory, SCOPY_BUF_SIZE bytes */
	u32 generation;
};

static struct scopy_dev scopy;

static int scopy_check_xfer(const struct scopy_xfer *x)
{
	if (!x->length || x->length > SCOPY_MAX_XFER)
		return -EINVAL;
	if (x->user_addr + x->length < x->user_addr)
		return -EINVAL;
	return 0;
}

static int scopy_nr_pages(const struct scopy_xfer *x)
{
	return PFN_UP(offset_in_page(x->user_addr) + x->length);
}

static void scopy_to_pages(struct page **pages, unsigned long uaddr, const u8 *src, size_t len)
{
	size_t off = offset_in_page(uaddr);
	int i = 0;

	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - off);

		memcpy_to_page(pages[i], off, (const char *)src, n);
		set_page_dirty_lock(pages[i]);
		src += n;
		len -= n;
		off = 0;
		i++;
	}
}

static void scopy_from_pages(u8 *dst, struct page **pages, unsigned long uaddr, size_t len)
{
	size_t off = offset_in_page(uaddr);
	int i = 0;

	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - off);

		memcpy_from_page((char *)dst, pages[i], off, n);
		dst += n;
		len -= n;
		off = 0;
		i++;
	}
}

/* Negative: FOLL_GET references, dropped with put_page on every path. */
static long scopy_read(struct scopy_xfer __user *uarg)
{
	struct scopy_xfer x;
	struct page **pages;
	int nr, got, i;
	long ret;

	if (copy_from_user(&x, uarg, sizeof(x)))
		return -EFAULT;
	ret = scopy_check_xfer(&x);
	if (ret)
		return ret;
	if (x.dev_offset > SCOPY_BUF_SIZE || x.length > SCOPY_BUF_SIZE - x.dev_offset)
		return -EINVAL;

	nr = scopy_nr_pages(&x);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	got = get_user_pages_fast(x.user_addr, nr, FOLL_WRITE, pages);
	if (got < 0) {
		ret = got;
		goto out_free;
	}
	if (got != nr) {
		ret = -EFAULT;
		goto out_put;
	}
	scopy_to_pages(pages, x.user_addr, scopy.buf + x.dev_offset, x.length);
	ret = 0;
out_put:
	for (i = 0; i < got; i++)
		put_page(pages[i]);
out_free:
	kvfree(pages);
	return ret;
}

/* Negative: FOLL_PIN, unpinned before returning. */
static long scopy_write(struct scopy_xfer __user *uarg)
{
	struct scopy_xfer x;
	struct page **pages;
	int nr, pinned;
	long ret;

	if (copy_from_user(&x, uarg, sizeof(x)))
		return -EFAULT;
	ret = scopy_check_xfer(&x);
	if (ret)
		return ret;
	if (x.dev_offset > SCOPY_BUF_SIZE || x.length > SCOPY_BUF_SIZE - x.dev_offset)
		return -EINVAL;

	nr = scopy_nr_pages(&x);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	pinned = pin_user_pages_fast(x.user_addr, nr, 0, pages);
	if (pinned < 0) {
		kvfree(pages);
		return pinned;
	}
	if (pinned != nr) {
		unpin_user_pages(pages, pinned);
		kvfree(pages);
		return -EFAULT;
	}
	scopy_from_pages(scopy.buf + x.dev_offset, pages, x.user_addr, x.length);
	scopy.generation++;
	unpin_user_pages(pages, nr);
	kvfree(pages);
	return 0;
}

/* Negative: a single page through the fast-only path, one reference dropped. */
static long scopy_read_word(struct scopy_word __user *uarg)
{
	struct scopy_word w;
	struct page *page;
	u64 val;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	if (!IS_ALIGNED(w.user_addr, sizeof(u64)) || !IS_ALIGNED(w.dev_offset, sizeof(u64)))
		return -EINVAL;
	if (w.dev_offset > SCOPY_BUF_SIZE - sizeof(u64))
		return -EINVAL;

	if (get_user_pages_fast_only(w.user_addr, 1, FOLL_WRITE, &page) != 1)
		return -EAGAIN;
	memcpy(&val, scopy.buf + w.dev_offset, sizeof(val));
	memcpy_to_page(page, offset_in_page(w.user_addr), (const char *)&val, sizeof(val));
	set_page_dirty_lock(page);
	put_page(page);
	return 0;
}

/* Positive: the range check after pinning returns without unpinning. */
static long scopy_write_checked(struct scopy_xfer __user *uarg)
{
	struct scopy_xfer x;
	struct page **pages;
	int nr, pinned;
	long ret;

	if (copy_from_user(&x, uarg, sizeof(x)))
		return -EFAULT;
	ret = scopy_check_xfer(&x);
	if (ret)
		return ret;

	nr = scopy_nr_pages(&x);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	pinned = pin_user_pages_fast(x.user_addr, nr, 0, pages); /* expect: GUP001 */
	if (pinned < 0) {
		kvfree(pages);
		return pinned;
	}
	if (pinned != nr) {
		unpin_user_pages(pages, pinned);
		kvfree(pages);
		return -EFAULT;
	}
	if (x.dev_offset > SCOPY_BUF_SIZE || x.length > SCOPY_BUF_SIZE - x.dev_offset) {
		kvfree(pages);
		return -EINVAL;
	}
	scopy_from_pages(scopy.buf + x.dev_offset, pages, x.user_addr, x.length);
	scopy.generation++;
	unpin_user_pages(pages, nr);
	kvfree(pages);
	return 0;
}

static long scopy_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&scopy.lock);
	switch (cmd) {
	case SCOPY_IOC_READ:
		ret = scopy_read(uarg);
		break;
	case SCOPY_IOC_WRITE:
		ret = scopy_write(uarg);
		break;
	case SCOPY_IOC_READ_WORD:
		ret = scopy_read_word(uarg);
		break;
	case SCOPY_IOC_WRITE_CHECKED:
		ret = scopy_write_checked(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&scopy.lock);
	return ret;
}

static const struct file_operations scopy_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= scopy_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice scopy_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "scopy",
	.fops	= &scopy_fops,
};

static int __init scopy_init(void)
{
	int ret;

	mutex_init(&scopy.lock);
	scopy.buf = vzalloc(SCOPY_BUF_SIZE);
	if (!scopy.buf)
		return -ENOMEM;
	ret = misc_register(&scopy_misc);
	if (ret)
		vfree(scopy.buf);
	return ret;
}

static void __exit scopy_exit(void)
{
	misc_deregister(&scopy_misc);
	vfree(scopy.buf);
}

module_init(scopy_init);
module_exit(scopy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Scratch copy device (gupcheck GUP001 test case)");
