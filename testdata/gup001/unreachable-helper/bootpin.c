/*
 * GUP001 case "unreachable-helper": only pins reached from a syscall entry
 * point count. The old FOLL_GET attach helper is no longer called from
 * anywhere (not flagged); the ioctl keeps a long-term pin (clean) and a
 * get_user_pages_unlocked() scratch buffer in globals (error).
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
#include <linux/workqueue.h>
#include <linux/uaccess.h>

#define BP_MAX_PAGES		128

struct bp_buf {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 pad;
};

#define BP_IOC_MAGIC		'b'
#define BP_IOC_ATTACH		_IOW(BP_IOC_MAGIC, 1, struct bp_buf)
#define BP_IOC_SET_SCRATCH	_IOW(BP_IOC_MAGIC, 2, struct bp_buf)
#define BP_IOC_DETACH		_IO(BP_IOC_MAGIC, 3)

static DEFINE_MUTEX(bp_lock);
static struct page **bp_pages;		/* attached buffer, FOLL_PIN | FOLL_LONGTERM */
static int bp_nr_pages;
static struct page **bp_scratch;	/* scratch buffer, FOLL_GET */
static int bp_nr_scratch;

static void bp_release_fn(struct work_struct *work);
static DECLARE_WORK(bp_release_work, bp_release_fn);

/*
 * Negative (unreachable): the pre-FOLL_LONGTERM attach path, kept for
 * reference but no longer called from anywhere.
 */
static int __maybe_unused bp_attach_legacy(unsigned long uaddr, int nr)
{
	struct page **pages;
	int got, i;

	pages = kcalloc(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = get_user_pages_fast(uaddr, nr, FOLL_WRITE, pages);
	if (got != nr) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		kfree(pages);
		return got < 0 ? got : -EFAULT;
	}
	bp_pages = pages;
	bp_nr_pages = nr;
	return 0;
}

/* Related location: both buffers are let go from a work item. */
static void bp_release_fn(struct work_struct *work)
{
	int i;

	mutex_lock(&bp_lock);
	if (bp_pages) {
		unpin_user_pages_dirty_lock(bp_pages, bp_nr_pages, true);
		kfree(bp_pages);
		bp_pages = NULL;
	}
	if (bp_scratch) {
		for (i = 0; i < bp_nr_scratch; i++)
			put_page(bp_scratch[i]);
		kfree(bp_scratch);
		bp_scratch = NULL;
	}
	mutex_unlock(&bp_lock);
}

static long bp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bp_buf buf;
	struct page **pages;
	long got, ret = 0;
	int i;

	if (cmd == BP_IOC_DETACH) {
		schedule_work(&bp_release_work);
		return 0;
	}
	if (cmd != BP_IOC_ATTACH && cmd != BP_IOC_SET_SCRATCH)
		return -ENOTTY;

	if (copy_from_user(&buf, (void __user *)arg, sizeof(buf)))
		return -EFAULT;
	if (!buf.nr_pages || buf.nr_pages > BP_MAX_PAGES || !PAGE_ALIGNED(buf.addr))
		return -EINVAL;
	pages = kcalloc(buf.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&bp_lock);
	if (cmd == BP_IOC_ATTACH) {
		/* Negative: long-term pin kept in a global */
		if (bp_pages) {
			ret = -EBUSY;
			goto out_free;
		}
		got = pin_user_pages_unlocked(buf.addr, buf.nr_pages, pages, FOLL_WRITE | FOLL_LONGTERM);
		if (got < 0) {
			ret = got;
			goto out_free;
		}
		if (got != buf.nr_pages) {
			unpin_user_pages(pages, got);
			ret = -EFAULT;
			goto out_free;
		}
		bp_pages = pages;
		bp_nr_pages = buf.nr_pages;
	} else {
		/* Positive: FOLL_GET references kept in a global */
		if (bp_scratch) {
			ret = -EBUSY;
			goto out_free;
		}
		got = get_user_pages_unlocked(buf.addr, buf.nr_pages, pages, FOLL_WRITE); /* expect: GUP001 */
		if (got < 0) {
			ret = got;
			goto out_free;
		}
		if (got != buf.nr_pages) {
			for (i = 0; i < got; i++)
				put_page(pages[i]);
			ret = -EFAULT;
			goto out_free;
		}
		bp_scratch = pages;
		bp_nr_scratch = buf.nr_pages;
	}
	mutex_unlock(&bp_lock);
	return 0;

out_free:
	mutex_unlock(&bp_lock);
	kfree(pages);
	return ret;
}

static const struct file_operations bp_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= bp_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice bp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "bootpin",
	.fops	= &bp_fops,
};

static int __init bp_init(void)
{
	return misc_register(&bp_misc);
}

static void __exit bp_exit(void)
{
	misc_deregister(&bp_misc);
	flush_work(&bp_release_work);
	bp_release_fn(NULL);
}

module_init(bp_init);
module_exit(bp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Attach buffers to a device (gupcheck GUP001 test case)");
