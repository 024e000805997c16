/*
 * GUP004 case "release-frees-mapped-buffer", positive: one log buffer for the
 * whole device, allocated by the first open() and mapped into every opener.
 * .release frees it whenever any file is closed, although another process may
 * still have it mapped (its mapping keeps its own file open, not this one) and
 * no vm_close callback tracks the mappings: flagged.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/rwsem.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#define SL_BYTES	(8 * PAGE_SIZE)

struct sl_dev {
	struct rw_semaphore sem;
	char *log;	/* vmalloc_user, shared by every opener */
};

static struct sl_dev sl;

static int sl_open(struct inode *inode, struct file *file)
{
	int ret = 0;

	down_write(&sl.sem);
	if (!sl.log) {
		sl.log = vmalloc_user(SL_BYTES);
		if (!sl.log)
			ret = -ENOMEM;
	}
	up_write(&sl.sem);
	return ret;
}

static int sl_mmap(struct file *file, struct vm_area_struct *vma)
{
	int ret;

	down_read(&sl.sem);
	ret = remap_vmalloc_range(vma, sl.log, vma->vm_pgoff);
	up_read(&sl.sem);
	return ret;
}

static int sl_release(struct inode *inode, struct file *file)
{
	down_write(&sl.sem);
	vfree(sl.log); /* expect: GUP004 */
	sl.log = NULL;
	up_write(&sl.sem);
	return 0;
}

static const struct file_operations sl_fops = {
	.owner		= THIS_MODULE,
	.open		= sl_open,
	.release	= sl_release,
	.mmap		= sl_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice sl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "sharedlog",
	.fops	= &sl_fops,
};

static int __init sl_init(void)
{
	init_rwsem(&sl.sem);
	return misc_register(&sl_misc);
}

static void __exit sl_exit(void)
{
	misc_deregister(&sl_misc);
	vfree(sl.log);
}

module_init(sl_init);
module_exit(sl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Device-wide log freed on close (gupcheck GUP004 test case)");
