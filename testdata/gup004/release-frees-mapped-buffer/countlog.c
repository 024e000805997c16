/*
 * GUP004 case "release-frees-mapped-buffer", negative: a device-wide log
 * buffer freed by the last close only. .open counts the openers, and every
 * mapping keeps its opener's file open, so when the count drops to zero no
 * mapping is left. Clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#define CL_BYTES	(8 * PAGE_SIZE)

struct cl_dev {
	struct mutex lock;
	char *log;		/* vmalloc_user, shared by every opener */
	unsigned int users;	/* open files */
};

static struct cl_dev cl;

static int cl_open(struct inode *inode, struct file *file)
{
	int ret = 0;

	mutex_lock(&cl.lock);
	if (!cl.log)
		cl.log = vmalloc_user(CL_BYTES);
	if (cl.log)
		cl.users++;
	else
		ret = -ENOMEM;
	mutex_unlock(&cl.lock);
	return ret;
}

static int cl_mmap(struct file *file, struct vm_area_struct *vma)
{
	int ret;

	mutex_lock(&cl.lock);
	ret = remap_vmalloc_range(vma, cl.log, vma->vm_pgoff);
	mutex_unlock(&cl.lock);
	return ret;
}

static int cl_release(struct inode *inode, struct file *file)
{
	mutex_lock(&cl.lock);
	if (--cl.users == 0) {
		vfree(cl.log);
		cl.log = NULL;
	}
	mutex_unlock(&cl.lock);
	return 0;
}

static const struct file_operations cl_fops = {
	.owner		= THIS_MODULE,
	.open		= cl_open,
	.release	= cl_release,
	.mmap		= cl_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice cl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "countlog",
	.fops	= &cl_fops,
};

static int __init cl_init(void)
{
	mutex_init(&cl.lock);
	return misc_register(&cl_misc);
}

static void __exit cl_exit(void)
{
	misc_deregister(&cl_misc);
	vfree(cl.log);
}

module_init(cl_init);
module_exit(cl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Device-wide log freed by the last close (gupcheck GUP004 test case)");
