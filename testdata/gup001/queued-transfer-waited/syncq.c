/*
 * GUP001 case "queued-transfer-waited": synchronous transfers through a device queue. The ioctl
 * takes references on the caller's buffer, links a request holding the pages into the device's
 * pending queue and sleeps until the device (a delayed work item here) has filled the pages or
 * the caller's timeout expires. SQ_IOC_XFER then takes the request off the queue and drops the
 * pages before it returns, whatever happened: the pages are held only during the syscall, so
 * FOLL_GET is fine. SQ_IOC_XFER_LAZY gives up on a timeout and returns -ETIMEDOUT with the
 * request still queued: the pages stay referenced after the ioctl returns (the device still
 * writes them later), until close() collects the request.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/completion.h>
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <linux/uaccess.h>

#define SQ_MAX_PAGES		8
#define SQ_MAX_MS		5000

struct sq_args {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 fill;		/* byte the device writes */
	__u32 timeout_ms;	/* how long the caller waits */
	__u32 delay_ms;		/* how long the device takes */
};

#define SQ_IOC_XFER		_IOW('q', 1, struct sq_args)
#define SQ_IOC_XFER_LAZY	_IOW('q', 2, struct sq_args)

struct sq_request {
	struct list_head link;		/* on sq_dev.pending */
	struct completion done;
	bool finished;
	u8 fill;
	unsigned int nr;
	struct page *pages[SQ_MAX_PAGES];
};

struct sq_dev {
	spinlock_t lock;
	struct list_head pending;
	struct delayed_work engine;
};

/* The device: fills every pending request that it has not served yet and signals it. */
static void sq_engine(struct work_struct *work)
{
	struct sq_dev *sd = container_of(to_delayed_work(work), struct sq_dev, engine);
	struct sq_request *req;
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&sd->lock, flags);
	list_for_each_entry(req, &sd->pending, link) {
		if (req->finished)
			continue;
		for (i = 0; i < req->nr; i++) {
			u8 *data = kmap_local_page(req->pages[i]);

			memset(data, req->fill, PAGE_SIZE);
			kunmap_local(data);
		}
		req->finished = true;
		complete(&req->done);
	}
	spin_unlock_irqrestore(&sd->lock, flags);
}

static int sq_get_args(struct sq_args *args, const void __user *uarg)
{
	if (copy_from_user(args, uarg, sizeof(*args)))
		return -EFAULT;
	if (!args->nr_pages || args->nr_pages > SQ_MAX_PAGES || !PAGE_ALIGNED(args->addr))
		return -EINVAL;
	if (args->timeout_ms > SQ_MAX_MS || args->delay_ms > SQ_MAX_MS)
		return -EINVAL;
	return 0;
}

/* Hands a request to the device. */
static void sq_queue(struct sq_dev *sd, struct sq_request *req, unsigned int delay_ms)
{
	unsigned long flags;

	spin_lock_irqsave(&sd->lock, flags);
	list_add_tail(&req->link, &sd->pending);
	spin_unlock_irqrestore(&sd->lock, flags);
	schedule_delayed_work(&sd->engine, msecs_to_jiffies(delay_ms));
}

/* Takes a request back: the device never sees it again. */
static void sq_unqueue(struct sq_dev *sd, struct sq_request *req)
{
	unsigned long flags;

	spin_lock_irqsave(&sd->lock, flags);
	list_del(&req->link);
	spin_unlock_irqrestore(&sd->lock, flags);
}

static void sq_put_pages(struct sq_request *req)
{
	unsigned int i;

	for (i = 0; i < req->nr; i++) {
		if (req->finished)
			set_page_dirty_lock(req->pages[i]);
		put_page(req->pages[i]);
	}
}

static struct sq_request *sq_new_request(const struct sq_args *args)
{
	struct sq_request *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (!req)
		return NULL;
	INIT_LIST_HEAD(&req->link);
	init_completion(&req->done);
	req->fill = (u8)args->fill;
	return req;
}

/* Negative: queued, waited for, unqueued and dropped on every way out. */
static long sq_xfer(struct sq_dev *sd, const void __user *uarg)
{
	struct sq_request *req;
	struct sq_args args;
	unsigned long left;
	int got, err;

	err = sq_get_args(&args, uarg);
	if (err)
		return err;
	req = sq_new_request(&args);
	if (!req)
		return -ENOMEM;
	got = get_user_pages_fast(args.addr, args.nr_pages, FOLL_WRITE, req->pages);
	if (got != args.nr_pages) {
		if (got > 0)
			release_pages(req->pages, got);
		kfree(req);
		return got < 0 ? got : -EFAULT;
	}
	req->nr = got;
	sq_queue(sd, req, args.delay_ms);
	left = wait_for_completion_timeout(&req->done, msecs_to_jiffies(args.timeout_ms));
	sq_unqueue(sd, req);
	sq_put_pages(req);
	kfree(req);
	return left ? 0 : -ETIMEDOUT;
}

/* Positive: a timeout leaves the request, and its pages, on the queue. */
static long sq_xfer_lazy(struct sq_dev *sd, const void __user *uarg)
{
	struct sq_request *req;
	struct sq_args args;
	unsigned long left;
	int got, err;

	err = sq_get_args(&args, uarg);
	if (err)
		return err;
	req = sq_new_request(&args);
	if (!req)
		return -ENOMEM;
	got = get_user_pages_fast(args.addr, args.nr_pages, FOLL_WRITE, req->pages); /* expect: GUP001 */
	if (got != args.nr_pages) {
		if (got > 0)
			release_pages(req->pages, got);
		kfree(req);
		return got < 0 ? got : -EFAULT;
	}
	req->nr = got;
	sq_queue(sd, req, args.delay_ms);
	left = wait_for_completion_timeout(&req->done, msecs_to_jiffies(args.timeout_ms));
	if (!left)
		return -ETIMEDOUT;	/* the device finishes it later; close() frees it */
	sq_unqueue(sd, req);
	sq_put_pages(req);
	kfree(req);
	return 0;
}

static long sq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sq_dev *sd = file->private_data;
	const void __user *uarg = (const void __user *)arg;

	switch (cmd) {
	case SQ_IOC_XFER:
		return sq_xfer(sd, uarg);
	case SQ_IOC_XFER_LAZY:
		return sq_xfer_lazy(sd, uarg);
	default:
		return -ENOTTY;
	}
}

static int sq_open(struct inode *inode, struct file *file)
{
	struct sq_dev *sd = kzalloc(sizeof(*sd), GFP_KERNEL);

	if (!sd)
		return -ENOMEM;
	spin_lock_init(&sd->lock);
	INIT_LIST_HEAD(&sd->pending);
	INIT_DELAYED_WORK(&sd->engine, sq_engine);
	file->private_data = sd;
	return 0;
}

static int sq_release(struct inode *inode, struct file *file)
{
	struct sq_dev *sd = file->private_data;
	struct sq_request *req, *next;

	cancel_delayed_work_sync(&sd->engine);
	/* requests a timed-out SQ_IOC_XFER_LAZY left behind */
	list_for_each_entry_safe(req, next, &sd->pending, link) {
		list_del(&req->link);
		sq_put_pages(req);
		kfree(req);
	}
	kfree(sd);
	return 0;
}

static const struct file_operations sq_fops = {
	.owner		= THIS_MODULE,
	.open		= sq_open,
	.release	= sq_release,
	.unlocked_ioctl	= sq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice sq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "syncq",
	.fops	= &sq_fops,
};
module_misc_device(sq_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 queued-transfer-waited");
