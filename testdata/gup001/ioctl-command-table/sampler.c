/*
 * GUP001 case "ioctl-command-table": a sampling device's ioctl looks its
 * command up in a table of { command, handler } pairs and calls the handler
 * through the table. SMP_IOC_ATTACH takes FOLL_GET references on the user's
 * sample ring and keeps them in the device until close (error); SMP_IOC_PEEK
 * writes one sample block and drops its references before returning (clean).
 * No handler is called by name: only the table reaches them.
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

#define SMP_RING_PAGES		4

#define SMP_IOC_MAGIC		0xb7
#define SMP_IOC_ATTACH		_IOW(SMP_IOC_MAGIC, 0x10, __u64)
#define SMP_IOC_STROBE		_IO(SMP_IOC_MAGIC, 0x11)
#define SMP_IOC_PEEK		_IOW(SMP_IOC_MAGIC, 0x12, __u64)

struct smp_dev {
	struct mutex lock;
	struct page *ring[SMP_RING_PAGES];
	bool attached;
	u8 level;
};

struct smp_cmd {
	unsigned int code;
	long (*run)(struct smp_dev *sd, void __user *uarg);
};

static void smp_fill(struct page **pages, unsigned int count, u8 level)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		u8 *va = kmap_local_page(pages[i]);

		memset(va, level + i, PAGE_SIZE);
		kunmap_local(va);
		set_page_dirty_lock(pages[i]);
	}
}

static long smp_attach(struct smp_dev *sd, void __user *uarg)
{
	u64 base;
	int got;

	if (copy_from_user(&base, uarg, sizeof(base)))
		return -EFAULT;
	if (!PAGE_ALIGNED(base))
		return -EINVAL;
	if (sd->attached)
		return -EBUSY;
	/* Positive: the references stay in sd->ring after the ioctl returns */
	got = get_user_pages_fast(base, SMP_RING_PAGES, FOLL_WRITE, sd->ring); /* expect: GUP001 */
	if (got != SMP_RING_PAGES) {
		if (got > 0)
			release_pages(sd->ring, got);
		return got < 0 ? got : -EFAULT;
	}
	sd->attached = true;
	return 0;
}

static long smp_strobe(struct smp_dev *sd, void __user *uarg)
{
	if (!sd->attached)
		return -ENXIO;
	smp_fill(sd->ring, SMP_RING_PAGES, ++sd->level);
	return 0;
}

static long smp_peek(struct smp_dev *sd, void __user *uarg)
{
	struct page *pages[SMP_RING_PAGES];
	u64 base;
	int got;

	if (copy_from_user(&base, uarg, sizeof(base)))
		return -EFAULT;
	if (!PAGE_ALIGNED(base))
		return -EINVAL;
	/* Negative: one block written, references dropped before returning */
	got = get_user_pages_fast(base, SMP_RING_PAGES, FOLL_WRITE, pages);
	if (got <= 0)
		return got ? got : -EFAULT;
	smp_fill(pages, got, ++sd->level);
	release_pages(pages, got);
	return got == SMP_RING_PAGES ? 0 : -EFAULT;
}

static const struct smp_cmd smp_cmds[] = {
	{ SMP_IOC_ATTACH, smp_attach },
	{ SMP_IOC_STROBE, smp_strobe },
	{ SMP_IOC_PEEK, smp_peek },
};

static long smp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct smp_dev *sd = file->private_data;
	const struct smp_cmd *c;
	long ret = -ENOTTY;

	mutex_lock(&sd->lock);
	for (c = smp_cmds; c < smp_cmds + ARRAY_SIZE(smp_cmds); c++) {
		if (c->code == cmd) {
			ret = c->run(sd, (void __user *)arg);
			break;
		}
	}
	mutex_unlock(&sd->lock);
	return ret;
}

static int smp_open(struct inode *inode, struct file *file)
{
	struct smp_dev *sd = kzalloc(sizeof(*sd), GFP_KERNEL);

	if (!sd)
		return -ENOMEM;
	mutex_init(&sd->lock);
	file->private_data = sd;
	return 0;
}

static int smp_release(struct inode *inode, struct file *file)
{
	struct smp_dev *sd = file->private_data;

	if (sd->attached)
		release_pages(sd->ring, SMP_RING_PAGES);
	kfree(sd);
	return 0;
}

static const struct file_operations smp_fops = {
	.owner		= THIS_MODULE,
	.open		= smp_open,
	.release	= smp_release,
	.unlocked_ioctl	= smp_ioctl,
};

static struct miscdevice smp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "sampler",
	.fops	= &smp_fops,
};

module_misc_device(smp_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: ioctl commands dispatched through a table");
