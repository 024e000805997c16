/*
 * GUP004 case "fault-export-unlocked-write": one page of notes, shared by
 * every opener of the device, handed to user space page by page from a
 * .fault handler. read(), the CLEAR ioctl and the STAMP ioctl take the
 * device mutex (directly or through helpers that return with it held or
 * release it); write() copies into the page without it: flagged. The page is
 * zeroed in module_init, before anyone can map it: clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define NOTE_IOC_MAGIC	'n'
#define NOTE_IOC_CLEAR	_IO(NOTE_IOC_MAGIC, 1)
#define NOTE_IOC_STAMP	_IOW(NOTE_IOC_MAGIC, 2, __u32)

struct note_dev {
	struct mutex lock;
	char *text;		/* one page, mapped by every opener */
	size_t used;
};

static struct note_dev note;

static vm_fault_t note_fault(struct vm_fault *vmf)
{
	struct page *page;

	if (vmf->pgoff)
		return VM_FAULT_SIGBUS;
	page = virt_to_page(note.text);
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct note_vm_ops = {
	.fault = note_fault,
};

static int note_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_end - vma->vm_start > PAGE_SIZE)
		return -EINVAL;
	vma->vm_ops = &note_vm_ops;
	return 0;
}

static ssize_t note_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&note.lock);
	ret = simple_read_from_buffer(buf, count, ppos, note.text, note.used);
	mutex_unlock(&note.lock);
	return ret;
}

/* Positive: the page is written without the mutex every other access holds. */
static ssize_t note_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	if (count > PAGE_SIZE - 1)
		count = PAGE_SIZE - 1;
	if (copy_from_user(note.text, buf, count)) /* expect: GUP004 */
		return -EFAULT;
	note.text[count] = '\0'; /* expect: GUP004 */
	note.used = count;
	return count;
}

/* Returns with note.lock held. */
static void note_lock(struct note_dev *dev)
{
	mutex_lock(&dev->lock);
}

/* Releases note.lock. */
static void note_unlock(struct note_dev *dev)
{
	mutex_unlock(&dev->lock);
}

static void note_stamp(struct note_dev *dev, u32 stamp)
{
	/* called with the lock held */
	snprintf(dev->text, PAGE_SIZE, "stamp %u\n", stamp);
	dev->used = strlen(dev->text);
}

static long note_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	u32 stamp;

	switch (cmd) {
	case NOTE_IOC_CLEAR:
		note_lock(&note);
		memset(note.text, 0, PAGE_SIZE);
		note.used = 0;
		note_unlock(&note);
		return 0;
	case NOTE_IOC_STAMP:
		if (get_user(stamp, (u32 __user *)arg))
			return -EFAULT;
		if (mutex_lock_interruptible(&note.lock))
			return -EINTR;
		note_stamp(&note, stamp);
		mutex_unlock(&note.lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations note_fops = {
	.owner		= THIS_MODULE,
	.read		= note_read,
	.write		= note_write,
	.unlocked_ioctl	= note_ioctl,
	.mmap		= note_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice note_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "notepage",
	.fops	= &note_fops,
};

static int __init note_init(void)
{
	int ret;

	note.text = (char *)get_zeroed_page(GFP_KERNEL);
	if (!note.text)
		return -ENOMEM;
	mutex_init(&note.lock);
	memset(note.text, 0, PAGE_SIZE);
	ret = misc_register(&note_misc);
	if (ret)
		free_page((unsigned long)note.text);
	return ret;
}

static void __exit note_exit(void)
{
	misc_deregister(&note_misc);
	free_page((unsigned long)note.text);
}

module_init(note_init);
module_exit(note_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Shared notes page (gupcheck GUP004 test case)");
