/*
 * GUP001 case "command-buffer-by-address": a device that takes its work as one command
 * structure, owned by the open file, listing the physical address of every page it is to
 * write. A helper writes page_to_phys() of each referenced page into that long-lived command.
 * CB_IOC_RUN loads the command, has the device execute it and drops the references before it
 * returns: the command outlives the ioctl, the pages do not, so FOLL_GET is fine.
 * CB_IOC_START loads the command and returns; the device runs it at CB_IOC_DONE, which drops the
 * pages it finds again from the addresses. Between the two ioctls the pages are held by FOLL_GET
 * references known only through physical addresses: a long-term use of FOLL_GET.
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

#define CB_MAX_PAGES		8

struct cb_req {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 fill;		/* byte the device writes at the start of each page */
};

#define CB_IOC_RUN		_IOW('c', 1, struct cb_req)
#define CB_IOC_START		_IOW('c', 2, struct cb_req)
#define CB_IOC_DONE		_IO('c', 3)

#define CB_STATUS_IDLE		0
#define CB_STATUS_LOADED	1
#define CB_STATUS_DONE		2

/* The command as the device reads it. */
struct cb_command {
	u64 addrs[CB_MAX_PAGES];	/* physical address of each page */
	u32 count;
	u32 status;
	u8 fill;
};

struct cb_dev {
	struct mutex lock;
	struct cb_command cmd;		/* lives as long as the open file */
};

static void cb_load(struct cb_dev *cd, struct page **pages, unsigned int nr, u8 fill)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		cd->cmd.addrs[i] = page_to_phys(pages[i]);
	cd->cmd.count = nr;
	cd->cmd.fill = fill;
	cd->cmd.status = CB_STATUS_LOADED;
}

/* The device: writes the fill byte at the start of every page of the command. */
static void cb_execute(struct cb_dev *cd)
{
	unsigned int i;

	for (i = 0; i < cd->cmd.count; i++) {
		struct page *page = pfn_to_page(cd->cmd.addrs[i] >> PAGE_SHIFT);
		u8 *data = kmap_local_page(page);

		memset(data, cd->cmd.fill, 64);
		kunmap_local(data);
		set_page_dirty_lock(page);
	}
	cd->cmd.status = CB_STATUS_DONE;
}

/* Drops the pages of a loaded command, found again from their addresses. */
static void cb_unload(struct cb_dev *cd)
{
	unsigned int i;

	for (i = 0; i < cd->cmd.count; i++)
		put_page(pfn_to_page(cd->cmd.addrs[i] >> PAGE_SHIFT));
	cd->cmd.count = 0;
	cd->cmd.status = CB_STATUS_IDLE;
}

static int cb_get_req(struct cb_req *req, const void __user *uarg)
{
	if (copy_from_user(req, uarg, sizeof(*req)))
		return -EFAULT;
	if (!req->nr_pages || req->nr_pages > CB_MAX_PAGES || !PAGE_ALIGNED(req->addr))
		return -EINVAL;
	return 0;
}

/* Negative: loaded, executed and released within the ioctl. */
static long cb_run(struct cb_dev *cd, const void __user *uarg)
{
	struct page *pages[CB_MAX_PAGES];
	struct cb_req req;
	int got, i, err;

	err = cb_get_req(&req, uarg);
	if (err)
		return err;
	if (cd->cmd.status == CB_STATUS_LOADED)
		return -EBUSY;
	got = get_user_pages_fast(req.addr, req.nr_pages, FOLL_WRITE, pages);
	if (got != req.nr_pages) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		return got < 0 ? got : -EFAULT;
	}
	cb_load(cd, pages, got, (u8)req.fill);
	cb_execute(cd);
	cd->cmd.count = 0;
	cd->cmd.status = CB_STATUS_IDLE;
	for (i = 0; i < got; i++)
		put_page(pages[i]);
	return 0;
}

/* Positive: the loaded command keeps the pages until CB_IOC_DONE. */
static long cb_start(struct cb_dev *cd, const void __user *uarg)
{
	struct page *pages[CB_MAX_PAGES];
	struct cb_req req;
	int got, i, err;

	err = cb_get_req(&req, uarg);
	if (err)
		return err;
	if (cd->cmd.status == CB_STATUS_LOADED)
		return -EBUSY;
	got = get_user_pages_fast(req.addr, req.nr_pages, FOLL_WRITE, pages); /* expect: GUP001 */
	if (got != req.nr_pages) {
		for (i = 0; i < got; i++)
			put_page(pages[i]);
		return got < 0 ? got : -EFAULT;
	}
	cb_load(cd, pages, got, (u8)req.fill);
	return 0;
}

static long cb_done(struct cb_dev *cd)
{
	if (cd->cmd.status != CB_STATUS_LOADED)
		return -EINVAL;
	cb_execute(cd);
	cb_unload(cd);
	return 0;
}

static long cb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cb_dev *cd = file->private_data;
	const void __user *uarg = (const void __user *)arg;
	long ret;

	mutex_lock(&cd->lock);
	switch (cmd) {
	case CB_IOC_RUN:
		ret = cb_run(cd, uarg);
		break;
	case CB_IOC_START:
		ret = cb_start(cd, uarg);
		break;
	case CB_IOC_DONE:
		ret = cb_done(cd);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&cd->lock);
	return ret;
}

static int cb_open(struct inode *inode, struct file *file)
{
	struct cb_dev *cd = kzalloc(sizeof(*cd), GFP_KERNEL);

	if (!cd)
		return -ENOMEM;
	mutex_init(&cd->lock);
	file->private_data = cd;
	return 0;
}

static int cb_release(struct inode *inode, struct file *file)
{
	struct cb_dev *cd = file->private_data;

	if (cd->cmd.status == CB_STATUS_LOADED)
		cb_unload(cd);	/* started, never finished */
	kfree(cd);
	return 0;
}

static const struct file_operations cb_fops = {
	.owner		= THIS_MODULE,
	.open		= cb_open,
	.release	= cb_release,
	.unlocked_ioctl	= cb_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice cb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cmdbuf",
	.fops	= &cb_fops,
};
module_misc_device(cb_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 command-buffer-by-address");
