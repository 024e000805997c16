/*
 * GUP002 case "two-drivers-same-macro", second driver: XDEV_IOC_REGISTER
 * ('Y', 1) pins buf.addr, checksums the buffer and unpins before returning.
 * Same macro name as in xdev_keep.c, different _IOC value.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#include "xdev_oneshot_uapi.h"

static u32 xone_sum_pages(struct page **pages, int nr)
{
	u32 sum = 0;
	int i;

	for (i = 0; i < nr; i++) {
		const u8 *va = kmap_local_page(pages[i]);
		unsigned int j;

		for (j = 0; j < PAGE_SIZE; j++)
			sum += va[j];
		kunmap_local(va);
	}
	return sum;
}

static long xone_register(const void __user *uarg)
{
	struct xdev_buf buf;
	struct page **pages;
	int nr, pinned;
	long ret = 0;

	if (copy_from_user(&buf, uarg, sizeof(buf)))
		return -EFAULT;
	if (!buf.len || buf.len > XDEV_MAX_BYTES || buf.addr + buf.len < buf.addr)
		return -EINVAL;
	nr = DIV_ROUND_UP(offset_in_page(buf.addr) + buf.len, PAGE_SIZE);
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(buf.addr, nr, 0, pages);
	if (pinned == nr)
		pr_info("xdev_oneshot: sum %u\n", xone_sum_pages(pages, nr));
	else
		ret = pinned < 0 ? pinned : -EFAULT;
	if (pinned > 0)
		unpin_user_pages(pages, pinned);	/* released before returning */
	kvfree(pages);
	return ret;
}

static long xone_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case XDEV_IOC_REGISTER:
		return xone_register((const void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations xone_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= xone_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xone_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xdev_oneshot",
	.fops	= &xone_fops,
};

static int __init xone_init(void)
{
	return misc_register(&xone_misc);
}

static void __exit xone_exit(void)
{
	misc_deregister(&xone_misc);
}

module_init(xone_init);
module_exit(xone_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xdev, one-shot variant (gupcheck GUP002 test case)");
