/*
 * GUP001 case "longterm-pin-stored": an ioctl registers a user buffer that the
 * device keeps using; the pages are stored in the per-open device struct and
 * unpinned in .release. FOLL_LONGTERM (macro or local flags variable) is
 * clean; the read-only variant forgets FOLL_LONGTERM (warning).
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

#define RBUF_MAX_BYTES		(64UL << 20)

struct rbuf_reg {
	__u64 addr;
	__u64 len;
};

#define RBUF_IOC_MAGIC		'B'
#define RBUF_IOC_REGISTER	_IOW(RBUF_IOC_MAGIC, 1, struct rbuf_reg)
#define RBUF_IOC_REGISTER_RO	_IOW(RBUF_IOC_MAGIC, 2, struct rbuf_reg)
#define RBUF_IOC_REGISTER_RW	_IOW(RBUF_IOC_MAGIC, 3, struct rbuf_reg)
#define RBUF_IOC_UNREGISTER	_IO(RBUF_IOC_MAGIC, 4)
#define RBUF_IOC_FILL		_IO(RBUF_IOC_MAGIC, 5)

struct rbuf_dev {
	struct mutex lock;
	struct page **pages;	/* registered buffer, device writes into it */
	int nr_pages;
	bool writable;
	u8 pattern;
};

static int rbuf_validate(const struct rbuf_reg *reg, int *nr)
{
	if (!reg->len || reg->len > RBUF_MAX_BYTES)
		return -EINVAL;
	if (!PAGE_ALIGNED(reg->addr) || !PAGE_ALIGNED(reg->len))
		return -EINVAL;
	if (reg->addr + reg->len < reg->addr)
		return -EINVAL;
	*nr = reg->len >> PAGE_SHIFT;
	return 0;
}

static void rbuf_release_pages(struct rbuf_dev *dev)
{
	if (!dev->pages)
		return;
	unpin_user_pages_dirty_lock(dev->pages, dev->nr_pages, dev->writable);
	kvfree(dev->pages);
	dev->pages = NULL;
	dev->nr_pages = 0;
}

/* The "device" writes its pattern into the registered buffer. */
static long rbuf_fill(struct rbuf_dev *dev)
{
	int i;

	if (!dev->pages)
		return -ENXIO;
	if (!dev->writable)
		return -EPERM;
	for (i = 0; i < dev->nr_pages; i++) {
		void *va = kmap_local_page(dev->pages[i]);

		memset(va, dev->pattern, PAGE_SIZE);
		kunmap_local(va);
	}
	dev->pattern++;
	return 0;
}

static long rbuf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rbuf_dev *dev = file->private_data;
	unsigned int gup_flags = FOLL_WRITE | FOLL_LONGTERM;
	struct rbuf_reg reg;
	struct page **pages;
	int nr, pinned;
	long ret;

	switch (cmd) {
	case RBUF_IOC_UNREGISTER:
		mutex_lock(&dev->lock);
		rbuf_release_pages(dev);
		mutex_unlock(&dev->lock);
		return 0;
	case RBUF_IOC_FILL:
		mutex_lock(&dev->lock);
		ret = rbuf_fill(dev);
		mutex_unlock(&dev->lock);
		return ret;
	case RBUF_IOC_REGISTER:
	case RBUF_IOC_REGISTER_RO:
	case RBUF_IOC_REGISTER_RW:
		break;
	default:
		return -ENOTTY;
	}

	if (copy_from_user(&reg, (void __user *)arg, sizeof(reg)))
		return -EFAULT;
	if (rbuf_validate(&reg, &nr))
		return -EINVAL;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&dev->lock);
	if (dev->pages) {
		ret = -EBUSY;
		goto out_free;
	}
	if (cmd == RBUF_IOC_REGISTER)		/* Negative: a proper long-term pin */
		pinned = pin_user_pages_fast(reg.addr, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	else if (cmd == RBUF_IOC_REGISTER_RO)	/* Positive (warning): no FOLL_LONGTERM */
		pinned = pin_user_pages_fast(reg.addr, nr, 0, pages); /* expect: GUP001 */
	else					/* Negative: FOLL_LONGTERM in gup_flags */
		pinned = pin_user_pages_fast(reg.addr, nr, gup_flags, pages);
	if (pinned < 0) {
		ret = pinned;
		goto out_free;
	}
	if (pinned != nr) {
		unpin_user_pages(pages, pinned);
		ret = -EFAULT;
		goto out_free;
	}
	/* Kept after the ioctl returns: unpinned by UNREGISTER or .release. */
	dev->pages = pages;
	dev->nr_pages = nr;
	dev->writable = cmd != RBUF_IOC_REGISTER_RO;
	mutex_unlock(&dev->lock);
	return 0;

out_free:
	mutex_unlock(&dev->lock);
	kvfree(pages);
	return ret;
}

static int rbuf_open(struct inode *inode, struct file *file)
{
	struct rbuf_dev *dev;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->lock);
	dev->pattern = 0xa5;
	file->private_data = dev;
	return 0;
}

static int rbuf_release(struct inode *inode, struct file *file)
{
	struct rbuf_dev *dev = file->private_data;

	rbuf_release_pages(dev);
	kfree(dev);
	return 0;
}

static const struct file_operations rbuf_fops = {
	.owner		= THIS_MODULE,
	.open		= rbuf_open,
	.release	= rbuf_release,
	.unlocked_ioctl	= rbuf_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice rbuf_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "rdmabuf",
	.fops	= &rbuf_fops,
};

module_misc_device(rbuf_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Registered DMA buffer (gupcheck GUP001 test case)");
