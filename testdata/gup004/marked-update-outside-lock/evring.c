/*
 * GUP004 case "marked-update-outside-lock": a page of events shared with
 * every opener (one zeroed page, mapped with remap_pfn_range()). Its header holds the producer index and the number of
 * queued events; readers poll it from user space.
 *
 * The POST ioctl and the FLUSH ioctl update the header under dev->lock, with
 * WRITE_ONCE() so that user space never sees a torn word. The REPLAY ioctl
 * writes the same two fields with WRITE_ONCE() but without the lock: each
 * store is one access, the update of both is not, and it races with POST
 * (flagged, twice). Look-alikes: the STATUS ioctl publishes one word with
 * smp_store_release() outside the lock (one field, one access); the WAIT
 * ioctl READ_ONCE()s the producer index outside the lock; the statistics
 * page, updated with WRITE_ONCE() and never under any lock, follows a
 * lockless protocol of its own.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/io.h>
#include <linux/uaccess.h>

#define EVR_SLOTS	64

#define EVR_IOC_MAGIC	'e'
#define EVR_IOC_POST	_IOW(EVR_IOC_MAGIC, 1, __u32)
#define EVR_IOC_FLUSH	_IO(EVR_IOC_MAGIC, 2)
#define EVR_IOC_REPLAY	_IOW(EVR_IOC_MAGIC, 3, __u32)
#define EVR_IOC_STATUS	_IOW(EVR_IOC_MAGIC, 4, __u32)
#define EVR_IOC_WAIT	_IO(EVR_IOC_MAGIC, 5)

struct evr_page {
	u32 head;		/* next slot the driver fills */
	u32 queued;		/* events not yet consumed */
	u32 status;		/* device status word */
	u32 events[EVR_SLOTS];
};

struct evr_stats {
	u64 posted;
	u64 replayed;
};

struct evr_dev {
	struct mutex lock;
	struct evr_page *page;	/* mapped at offset 0 */
	struct evr_stats *stats;	/* mapped at offset PAGE_SIZE */
	u32 last;
};

static struct evr_dev evr;

static void evr_post(struct evr_dev *dev, u32 event)
{
	struct evr_page *pg = dev->page;
	u32 head;

	mutex_lock(&dev->lock);
	head = pg->head;
	pg->events[head % EVR_SLOTS] = event;
	WRITE_ONCE(pg->head, head + 1);
	WRITE_ONCE(pg->queued, min_t(u32, pg->queued + 1, EVR_SLOTS));
	dev->last = event;
	mutex_unlock(&dev->lock);
	WRITE_ONCE(dev->stats->posted, dev->stats->posted + 1);
}

static void evr_flush(struct evr_dev *dev)
{
	mutex_lock(&dev->lock);
	WRITE_ONCE(dev->page->queued, 0);
	WRITE_ONCE(dev->page->head, 0);
	mutex_unlock(&dev->lock);
}

/* Positive: the same two-field update as POST, without the lock POST holds. */
static void evr_replay(struct evr_dev *dev, u32 count)
{
	u32 head = READ_ONCE(dev->page->head);

	WRITE_ONCE(dev->page->head, head + count); /* expect: GUP004 */
	WRITE_ONCE(dev->page->queued, count); /* expect: GUP004 */
	WRITE_ONCE(dev->stats->replayed, dev->stats->replayed + count);
	WRITE_ONCE(dev->stats->posted, dev->stats->posted + count);
}

static long evr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	u32 value;

	switch (cmd) {
	case EVR_IOC_POST:
		if (get_user(value, (u32 __user *)arg))
			return -EFAULT;
		evr_post(&evr, value);
		return 0;
	case EVR_IOC_FLUSH:
		evr_flush(&evr);
		return 0;
	case EVR_IOC_REPLAY:
		if (get_user(value, (u32 __user *)arg))
			return -EFAULT;
		if (value > EVR_SLOTS)
			return -EINVAL;
		evr_replay(&evr, value);
		return 0;
	case EVR_IOC_STATUS:
		if (get_user(value, (u32 __user *)arg))
			return -EFAULT;
		/* Look-alike: one word published on its own. */
		smp_store_release(&evr.page->status, value);
		return 0;
	case EVR_IOC_WAIT:
		/* Look-alike: one marked read of a word the locked writers store. */
		return READ_ONCE(evr.page->head) != evr.last;
	default:
		return -ENOTTY;
	}
}

static int evr_mmap(struct file *file, struct vm_area_struct *vma)
{
	void *mem;

	if (vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	switch (vma->vm_pgoff) {
	case 0:
		mem = evr.page;
		break;
	case 1:
		mem = evr.stats;
		break;
	default:
		return -EINVAL;
	}
	return remap_pfn_range(vma, vma->vm_start, virt_to_phys(mem) >> PAGE_SHIFT,
			       PAGE_SIZE, vma->vm_page_prot);
}

static const struct file_operations evr_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= evr_ioctl,
	.mmap		= evr_mmap,
};

static struct miscdevice evr_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "evring",
	.fops	= &evr_fops,
};

static int __init evr_init(void)
{
	int ret;

	mutex_init(&evr.lock);
	evr.page = (struct evr_page *)get_zeroed_page(GFP_KERNEL);
	evr.stats = (struct evr_stats *)get_zeroed_page(GFP_KERNEL);
	if (!evr.page || !evr.stats) {
		ret = -ENOMEM;
		goto out;
	}
	ret = misc_register(&evr_misc);
	if (!ret)
		return 0;
out:
	free_page((unsigned long)evr.stats);
	free_page((unsigned long)evr.page);
	return ret;
}

static void __exit evr_exit(void)
{
	misc_deregister(&evr_misc);
	free_page((unsigned long)evr.stats);
	free_page((unsigned long)evr.page);
}

module_init(evr_init);
module_exit(evr_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Shared event ring (gupcheck GUP004 test case)");
