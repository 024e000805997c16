/*
 * GUP004 case "lock-word-in-shared-page", driver side: a page of slots mapped
 * into every opener with vm_insert_page(). TP_IOC_ACQUIRE sets the page's
 * lock word (failing with -EBUSY while it is set) and TP_IOC_RELEASE clears
 * it, both under the driver's spinlock. Clean: the findings are on the
 * userland side.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include <linux/gfp.h>

#include "tokenpage_uapi.h"

static DEFINE_SPINLOCK(tp_lock);
static struct tp_page *tp_board;	/* one zeroed page */

static long tp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	long ret = 0;

	switch (cmd) {
	case TP_IOC_ACQUIRE:
		spin_lock(&tp_lock);
		if (READ_ONCE(tp_board->lock)) {
			ret = -EBUSY;
		} else {
			WRITE_ONCE(tp_board->lock, 1);
			WRITE_ONCE(tp_board->owner, task_pid_nr(current));
		}
		spin_unlock(&tp_lock);
		return ret;
	case TP_IOC_RELEASE:
		spin_lock(&tp_lock);
		WRITE_ONCE(tp_board->owner, 0);
		WRITE_ONCE(tp_board->lock, 0);
		spin_unlock(&tp_lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int tp_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	return vm_insert_page(vma, vma->vm_start, virt_to_page(tp_board));
}

static const struct file_operations tp_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= tp_ioctl,
	.mmap		= tp_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice tp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "tokenpage",
	.fops	= &tp_fops,
};

static int __init tp_init(void)
{
	int ret;

	tp_board = (struct tp_page *)get_zeroed_page(GFP_KERNEL);
	if (!tp_board)
		return -ENOMEM;
	ret = misc_register(&tp_misc);
	if (ret)
		free_page((unsigned long)tp_board);
	return ret;
}

static void __exit tp_exit(void)
{
	misc_deregister(&tp_misc);
	free_page((unsigned long)tp_board);
}

module_init(tp_init);
module_exit(tp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Slots page with a lock word (gupcheck GUP004 test case)");
