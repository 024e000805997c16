/*
 * GUP004 case "lock-ioctl-bracket", driver side: a notice board page mapped
 * into every opener with remap_pfn_range(). User space takes the board with
 * SHM_IOC_LOCK (the driver returns with the board's semaphore held) and gives
 * it back with SHM_IOC_UNLOCK; the driver's own accesses (BUMP, read()) hold
 * the semaphore too. Clean: the findings are on the userland side.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/semaphore.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/uaccess.h>

#include "shmlock_uapi.h"

struct shm_dev {
	struct semaphore sem;	/* may be held by user space across system calls */
	struct shm_board *board;
};

static struct shm_dev shm;

static long shm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case SHM_IOC_LOCK:
		if (down_interruptible(&shm.sem))
			return -EINTR;
		return 0;
	case SHM_IOC_UNLOCK:
		up(&shm.sem);
		return 0;
	case SHM_IOC_BUMP:
		down(&shm.sem);
		shm.board->generation++;
		up(&shm.sem);
		return 0;
	default:
		return -ENOTTY;
	}
}

static ssize_t shm_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	u32 generation;

	if (*ppos || count < sizeof(generation))
		return 0;
	if (down_interruptible(&shm.sem))
		return -EINTR;
	generation = shm.board->generation;
	up(&shm.sem);
	if (copy_to_user(buf, &generation, sizeof(generation)))
		return -EFAULT;
	*ppos = sizeof(generation);
	return sizeof(generation);
}

static int shm_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start, virt_to_phys(shm.board) >> PAGE_SHIFT,
			       PAGE_SIZE, vma->vm_page_prot);
}

static const struct file_operations shm_fops = {
	.owner		= THIS_MODULE,
	.read		= shm_read,
	.unlocked_ioctl	= shm_ioctl,
	.mmap		= shm_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice shm_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "shmlock",
	.fops	= &shm_fops,
};

static int __init shm_init(void)
{
	int ret;

	shm.board = (struct shm_board *)get_zeroed_page(GFP_KERNEL);
	if (!shm.board)
		return -ENOMEM;
	sema_init(&shm.sem, 1);
	ret = misc_register(&shm_misc);
	if (ret)
		free_page((unsigned long)shm.board);
	return ret;
}

static void __exit shm_exit(void)
{
	misc_deregister(&shm_misc);
	free_page((unsigned long)shm.board);
}

module_init(shm_init);
module_exit(shm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Notice board page with lock ioctls (gupcheck GUP004 test case)");
