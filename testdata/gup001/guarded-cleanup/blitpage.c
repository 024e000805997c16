/*
 * GUP001 case "guarded-cleanup": an ioctl copies a pattern into a user buffer through
 * its pinned pages. Every path ends at one cleanup label whose release is guarded by a
 * compound test of the page array and of the pin count. A release guarded by
 * `pages && pinned > 0` skips only the paths that pinned nothing (no array, or a failed
 * pin); the positive's guard `pages && pinned > 1` also skips a one-page pin, which
 * then stays pinned when the pattern check fails.
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
#include <linux/io.h>
#include <linux/uaccess.h>

#define BLIT_MAX_PAGES		32
#define BLIT_TAG		0x424c4954U	/* "BLIT" */

struct blit_args {
	__u64 user_addr;	/* page aligned; word 0 of the first page must hold BLIT_TAG */
	__u32 nr_pages;
	__u32 pattern;
};

#define BLIT_IOC_MAGIC		'b'
#define BLIT_IOC_FILL		_IOW(BLIT_IOC_MAGIC, 1, struct blit_args)
#define BLIT_IOC_FILL_SAFE	_IOW(BLIT_IOC_MAGIC, 2, struct blit_args)

static DEFINE_MUTEX(blit_mutex);

/* Writes the pattern after the tag in every page; -EPROTO when the tag is missing. */
static int blit_fill_pages(struct page **pages, unsigned int count, u32 pattern)
{
	unsigned int n;
	int err = 0;

	for (n = 0; n < count && !err; n++) {
		u32 *words = kmap_local_page(pages[n]);

		if (n == 0 && words[0] != BLIT_TAG)
			err = -EPROTO;
		else
			words[1] = pattern;
		kunmap_local(words);
	}
	return err;
}

/* Positive: the guard forgets a one-page pin. */
static long blit_fill(const void __user *uarg)
{
	struct blit_args args;
	struct page **pages = NULL;
	phys_addr_t first;
	int pinned = 0;
	long err;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (!args.nr_pages || args.nr_pages > BLIT_MAX_PAGES || !PAGE_ALIGNED(args.user_addr))
		return -EINVAL;
	pages = kcalloc(args.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		err = -ENOMEM;
		goto done;
	}
	pinned = pin_user_pages_fast(args.user_addr, args.nr_pages, FOLL_WRITE, pages); /* expect: GUP001 */
	if (pinned != args.nr_pages) {
		err = pinned < 0 ? pinned : -EFAULT;
		goto done;
	}
	first = page_to_phys(pages[0]);
	pr_debug("blitpage: first page at %pa\n", &first);
	err = blit_fill_pages(pages, pinned, args.pattern);
done:
	if (pages && pinned > 1)
		unpin_user_pages_dirty_lock(pages, pinned, !err);
	kfree(pages);
	return err;
}

/* Negative: the same cleanup, guarded by `pinned > 0`. */
static long blit_fill_safe(const void __user *uarg)
{
	struct blit_args args;
	struct page **pages = NULL;
	phys_addr_t first;
	int pinned = 0;
	long err;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (!args.nr_pages || args.nr_pages > BLIT_MAX_PAGES || !PAGE_ALIGNED(args.user_addr))
		return -EINVAL;
	pages = kcalloc(args.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		err = -ENOMEM;
		goto done;
	}
	pinned = pin_user_pages_fast(args.user_addr, args.nr_pages, FOLL_WRITE, pages);
	if (pinned != args.nr_pages) {
		err = pinned < 0 ? pinned : -EFAULT;
		goto done;
	}
	first = page_to_phys(pages[0]);
	pr_debug("blitpage: first page at %pa\n", &first);
	err = blit_fill_pages(pages, pinned, args.pattern);
done:
	if (pages && pinned > 0)
		unpin_user_pages_dirty_lock(pages, pinned, !err);
	kfree(pages);
	return err;
}

static long blit_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const void __user *uarg = (const void __user *)arg;
	long ret;

	mutex_lock(&blit_mutex);
	switch (cmd) {
	case BLIT_IOC_FILL:
		ret = blit_fill(uarg);
		break;
	case BLIT_IOC_FILL_SAFE:
		ret = blit_fill_safe(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&blit_mutex);
	return ret;
}

static const struct file_operations blit_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= blit_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice blit_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "blitpage",
	.fops	= &blit_fops,
};
module_misc_device(blit_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 guarded-cleanup");
