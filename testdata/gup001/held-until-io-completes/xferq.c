/*
 * GUP001 case "held-until-io-completes": a transfer queue. XQ_IOC_SUBMIT pins the caller's buffer
 * (FOLL_PIN, no FOLL_LONGTERM), queues the transfer and returns; a work item plays the device,
 * fills the pages and unpins them when the transfer completes (XQ_IOC_WAIT waits for that). The
 * pages outlive the ioctl only for the I/O: Case 1 of pin_user_pages.rst, right as it is.
 * XQ_IOC_REGISTER also pins without FOLL_LONGTERM, but keeps the buffer registered until
 * XQ_IOC_UNREGISTER or close: a long-term pin that lacks FOLL_LONGTERM.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>

#define XQ_MAX_PAGES		16

struct xq_buf {
	__u64 addr;	/* page aligned */
	__u32 nr_pages;
	__u32 fill;	/* byte the "device" writes */
};

#define XQ_IOC_SUBMIT		_IOW('x', 1, struct xq_buf)
#define XQ_IOC_WAIT		_IO('x', 2)
#define XQ_IOC_REGISTER		_IOW('x', 3, struct xq_buf)
#define XQ_IOC_UNREGISTER	_IO('x', 4)

struct xq_job {
	struct list_head node;
	struct page **pages;
	unsigned int nr;
	u8 fill;
};

struct xq_dev {
	spinlock_t lock;
	struct list_head queued;
	struct work_struct complete;
	wait_queue_head_t idle;
	struct mutex reg_lock;
	struct page **reg_pages;	/* the registered buffer */
	unsigned int reg_nr;
};

/* The device: writes each queued transfer, then the transfer is complete and its pages unpinned. */
static void xq_complete_work(struct work_struct *work)
{
	struct xq_dev *xq = container_of(work, struct xq_dev, complete);
	struct xq_job *job;
	unsigned int i;

	for (;;) {
		spin_lock(&xq->lock);
		job = list_first_entry_or_null(&xq->queued, struct xq_job, node);
		if (job)
			list_del(&job->node);
		spin_unlock(&xq->lock);
		if (!job)
			break;
		for (i = 0; i < job->nr; i++) {
			u8 *data = kmap_local_page(job->pages[i]);

			memset(data, job->fill, PAGE_SIZE);
			kunmap_local(data);
		}
		unpin_user_pages_dirty_lock(job->pages, job->nr, true);
		kfree(job->pages);
		kfree(job);
	}
	wake_up(&xq->idle);
}

static int xq_get_buf(struct xq_buf *buf, const void __user *uarg)
{
	if (copy_from_user(buf, uarg, sizeof(*buf)))
		return -EFAULT;
	if (!buf->nr_pages || buf->nr_pages > XQ_MAX_PAGES || !PAGE_ALIGNED(buf->addr))
		return -EINVAL;
	return 0;
}

/* Negative: pinned for the transfer, unpinned when it completes. */
static long xq_submit(struct xq_dev *xq, const void __user *uarg)
{
	struct xq_buf buf;
	struct xq_job *job;
	int pinned, err;

	err = xq_get_buf(&buf, uarg);
	if (err)
		return err;
	job = kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job)
		return -ENOMEM;
	job->pages = kcalloc(buf.nr_pages, sizeof(*job->pages), GFP_KERNEL);
	if (!job->pages) {
		kfree(job);
		return -ENOMEM;
	}
	pinned = pin_user_pages_fast(buf.addr, buf.nr_pages, FOLL_WRITE, job->pages);
	if (pinned != buf.nr_pages) {
		if (pinned > 0)
			unpin_user_pages(job->pages, pinned);
		kfree(job->pages);
		kfree(job);
		return pinned < 0 ? pinned : -EFAULT;
	}
	job->nr = pinned;
	job->fill = buf.fill;
	spin_lock(&xq->lock);
	list_add_tail(&job->node, &xq->queued);
	spin_unlock(&xq->lock);
	schedule_work(&xq->complete);
	return 0;
}

/* Positive: kept registered until UNREGISTER or close, without FOLL_LONGTERM. */
static long xq_register(struct xq_dev *xq, const void __user *uarg)
{
	struct xq_buf buf;
	struct page **pages;
	int pinned, err;

	err = xq_get_buf(&buf, uarg);
	if (err)
		return err;
	pages = kcalloc(buf.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(buf.addr, buf.nr_pages, FOLL_WRITE, pages); /* expect: GUP001 */
	if (pinned != buf.nr_pages) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		kfree(pages);
		return pinned < 0 ? pinned : -EFAULT;
	}
	mutex_lock(&xq->reg_lock);
	if (xq->reg_pages) {
		mutex_unlock(&xq->reg_lock);
		unpin_user_pages(pages, pinned);
		kfree(pages);
		return -EBUSY;
	}
	xq->reg_pages = pages;
	xq->reg_nr = pinned;
	mutex_unlock(&xq->reg_lock);
	return 0;
}

static void xq_unregister(struct xq_dev *xq)
{
	mutex_lock(&xq->reg_lock);
	if (xq->reg_pages) {
		unpin_user_pages(xq->reg_pages, xq->reg_nr);
		kfree(xq->reg_pages);
		xq->reg_pages = NULL;
		xq->reg_nr = 0;
	}
	mutex_unlock(&xq->reg_lock);
}

static bool xq_idle(struct xq_dev *xq)
{
	bool empty;

	spin_lock(&xq->lock);
	empty = list_empty(&xq->queued);
	spin_unlock(&xq->lock);
	return empty;
}

static long xq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xq_dev *xq = file->private_data;
	const void __user *uarg = (const void __user *)arg;

	switch (cmd) {
	case XQ_IOC_SUBMIT:
		return xq_submit(xq, uarg);
	case XQ_IOC_WAIT:
		flush_work(&xq->complete);
		return wait_event_interruptible(xq->idle, xq_idle(xq));
	case XQ_IOC_REGISTER:
		return xq_register(xq, uarg);
	case XQ_IOC_UNREGISTER:
		xq_unregister(xq);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int xq_open(struct inode *inode, struct file *file)
{
	struct xq_dev *xq = kzalloc(sizeof(*xq), GFP_KERNEL);

	if (!xq)
		return -ENOMEM;
	spin_lock_init(&xq->lock);
	INIT_LIST_HEAD(&xq->queued);
	INIT_WORK(&xq->complete, xq_complete_work);
	init_waitqueue_head(&xq->idle);
	mutex_init(&xq->reg_lock);
	file->private_data = xq;
	return 0;
}

static int xq_release(struct inode *inode, struct file *file)
{
	struct xq_dev *xq = file->private_data;

	flush_work(&xq->complete);	/* the queued transfers complete and unpin */
	xq_unregister(xq);
	kfree(xq);
	return 0;
}

static const struct file_operations xq_fops = {
	.owner		= THIS_MODULE,
	.open		= xq_open,
	.release	= xq_release,
	.unlocked_ioctl	= xq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xferq",
	.fops	= &xq_fops,
};
module_misc_device(xq_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 held-until-io-completes");
