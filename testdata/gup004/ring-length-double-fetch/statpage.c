/*
 * GUP004 case "ring-length-double-fetch", read-only look-alike: a status
 * page the driver publishes and user space may only read (mmap() refuses
 * writable mappings and clears VM_MAYWRITE). The driver checks a field of the
 * page and reads it again: user space cannot change it in between, so this
 * is not a double fetch. Clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define SP_NAME_MAX	64

struct sp_status {
	u32 name_len;
	char name[SP_NAME_MAX];
	u64 events;
};

static DEFINE_SPINLOCK(sp_lock);
static struct sp_status *sp_page;	/* one zeroed page */

static ssize_t sp_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	char name[SP_NAME_MAX];
	size_t len;

	spin_lock(&sp_lock);
	if (sp_page->name_len > SP_NAME_MAX) {
		spin_unlock(&sp_lock);
		return -EIO;
	}
	len = sp_page->name_len;
	memcpy(name, sp_page->name, len);
	sp_page->events++;
	spin_unlock(&sp_lock);
	return simple_read_from_buffer(buf, count, ppos, name, len);
}

static int sp_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	vma->vm_flags &= ~VM_MAYWRITE;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start, virt_to_phys(sp_page) >> PAGE_SHIFT,
			       PAGE_SIZE, vma->vm_page_prot);
}

static const struct file_operations sp_fops = {
	.owner	= THIS_MODULE,
	.read	= sp_read,
	.mmap	= sp_mmap,
	.llseek	= noop_llseek,
};

static struct miscdevice sp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "statpage",
	.fops	= &sp_fops,
};

static int __init sp_init(void)
{
	int ret;

	sp_page = (struct sp_status *)get_zeroed_page(GFP_KERNEL);
	if (!sp_page)
		return -ENOMEM;
	strscpy(sp_page->name, "statpage", SP_NAME_MAX);
	sp_page->name_len = strlen(sp_page->name);
	ret = misc_register(&sp_misc);
	if (ret)
		free_page((unsigned long)sp_page);
	return ret;
}

static void __exit sp_exit(void)
{
	misc_deregister(&sp_misc);
	free_page((unsigned long)sp_page);
}

module_init(sp_init);
module_exit(sp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Read-only status page (gupcheck GUP004 test case)");
