/*
 * GUP001 case "released-in-release": a buffer handed over by ioctl is held
 * until the file is closed and let go in .release. HOLD pins it long-term
 * (FOLL_PIN | FOLL_LONGTERM): clean. HOLD_LEGACY still uses the 6.1
 * get_user_pages() under mmap_read_lock and keeps the FOLL_GET references: error.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define HB_MAX_PAGES		512

struct hb_hold {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 pad;
};

#define HB_IOC_MAGIC		'H'
#define HB_IOC_HOLD		_IOW(HB_IOC_MAGIC, 1, struct hb_hold)
#define HB_IOC_HOLD_LEGACY	_IOW(HB_IOC_MAGIC, 2, struct hb_hold)
#define HB_IOC_STAMP		_IOW(HB_IOC_MAGIC, 3, __u32)

struct hb_file {
	struct mutex lock;
	struct page **pages;
	unsigned int nr_pages;
	bool pinned;		/* FOLL_PIN (unpin) or FOLL_GET (put_page) */
};

static long hb_stamp(struct hb_file *hf, u32 __user *uval)
{
	unsigned int i;
	u32 val;

	if (get_user(val, uval))
		return -EFAULT;
	if (!hf->pages)
		return -ENXIO;
	for (i = 0; i < hf->nr_pages; i++) {
		u32 *va = kmap_local_page(hf->pages[i]);

		va[0] = val;
		kunmap_local(va);
	}
	return 0;
}

static long hb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hb_file *hf = file->private_data;
	struct hb_hold hold;
	struct page **pages;
	long got, ret = 0;
	unsigned int i;

	if (cmd == HB_IOC_STAMP) {
		mutex_lock(&hf->lock);
		ret = hb_stamp(hf, (u32 __user *)arg);
		mutex_unlock(&hf->lock);
		return ret;
	}
	if (cmd != HB_IOC_HOLD && cmd != HB_IOC_HOLD_LEGACY)
		return -ENOTTY;

	if (copy_from_user(&hold, (void __user *)arg, sizeof(hold)))
		return -EFAULT;
	if (!hold.nr_pages || hold.nr_pages > HB_MAX_PAGES || !PAGE_ALIGNED(hold.addr))
		return -EINVAL;
	pages = kvmalloc_array(hold.nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&hf->lock);
	if (hf->pages) {
		ret = -EBUSY;
		goto out_unlock;
	}

	if (cmd == HB_IOC_HOLD) {
		/* Negative: long-term pin, unpinned in .release */
		got = pin_user_pages_fast(hold.addr, hold.nr_pages, FOLL_WRITE | FOLL_LONGTERM, pages);
		if (got < 0) {
			ret = got;
			goto out_unlock;
		}
		if (got != hold.nr_pages) {
			unpin_user_pages(pages, got);
			ret = -EFAULT;
			goto out_unlock;
		}
		hf->pinned = true;
	} else {
		/* Positive: FOLL_GET references held until .release */
		mmap_read_lock(current->mm);
		got = get_user_pages(hold.addr, hold.nr_pages, FOLL_WRITE, pages, NULL); /* expect: GUP001 */
		mmap_read_unlock(current->mm);
		if (got < 0) {
			ret = got;
			goto out_unlock;
		}
		if (got != hold.nr_pages) {
			for (i = 0; i < got; i++)
				put_page(pages[i]);
			ret = -EFAULT;
			goto out_unlock;
		}
		hf->pinned = false;
	}
	hf->pages = pages;
	hf->nr_pages = hold.nr_pages;
	mutex_unlock(&hf->lock);
	return 0;

out_unlock:
	mutex_unlock(&hf->lock);
	kvfree(pages);
	return ret;
}

static int hb_open(struct inode *inode, struct file *file)
{
	struct hb_file *hf = kzalloc(sizeof(*hf), GFP_KERNEL);

	if (!hf)
		return -ENOMEM;
	mutex_init(&hf->lock);
	file->private_data = hf;
	return 0;
}

/* Related location: where the held pages are finally let go. */
static int hb_release(struct inode *inode, struct file *file)
{
	struct hb_file *hf = file->private_data;
	unsigned int i;

	if (hf->pages) {
		if (hf->pinned) {
			unpin_user_pages_dirty_lock(hf->pages, hf->nr_pages, true);
		} else {
			for (i = 0; i < hf->nr_pages; i++) {
				set_page_dirty_lock(hf->pages[i]);
				put_page(hf->pages[i]);
			}
		}
		kvfree(hf->pages);
	}
	kfree(hf);
	return 0;
}

static const struct file_operations hb_fops = {
	.owner		= THIS_MODULE,
	.open		= hb_open,
	.release	= hb_release,
	.unlocked_ioctl	= hb_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice hb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "holdbuf",
	.fops	= &hb_fops,
};

static int __init hb_init(void)
{
	return misc_register(&hb_misc);
}

static void __exit hb_exit(void)
{
	misc_deregister(&hb_misc);
}

module_init(hb_init);
module_exit(hb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Buffer holder (gupcheck GUP001 test case)");
