/*
 * GUP004 case "release-frees-mapped-buffer", negative: a device-wide trace
 * buffer whose mappings hold references (taken in mmap and vm_open, dropped in
 * vm_close). Closing a file starts a fresh buffer and drops the device's
 * reference to the old one: the last mapping frees it. Clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#define KL_BYTES	(8 * PAGE_SIZE)

struct kl_buf {
	refcount_t users;	/* the device, and each mapping */
	void *mem;		/* vmalloc_user */
};

static DEFINE_MUTEX(kl_lock);
static struct kl_buf *kl_current;

static struct kl_buf *kl_alloc(void)
{
	struct kl_buf *buf = kzalloc(sizeof(*buf), GFP_KERNEL);

	if (!buf)
		return NULL;
	buf->mem = vmalloc_user(KL_BYTES);
	if (!buf->mem) {
		kfree(buf);
		return NULL;
	}
	refcount_set(&buf->users, 1);
	return buf;
}

static void kl_put(struct kl_buf *buf)
{
	if (buf && refcount_dec_and_test(&buf->users)) {
		vfree(buf->mem);
		kfree(buf);
	}
}

static void kl_vm_open(struct vm_area_struct *vma)
{
	struct kl_buf *buf = vma->vm_private_data;

	refcount_inc(&buf->users);
}

static void kl_vm_close(struct vm_area_struct *vma)
{
	kl_put(vma->vm_private_data);
}

static const struct vm_operations_struct kl_vm_ops = {
	.open	= kl_vm_open,
	.close	= kl_vm_close,
};

static int kl_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kl_buf *buf;
	int ret = -ENOMEM;

	mutex_lock(&kl_lock);
	buf = kl_current;
	if (buf) {
		ret = remap_vmalloc_range(vma, buf->mem, vma->vm_pgoff);
		if (!ret) {
			refcount_inc(&buf->users);
			vma->vm_private_data = buf;
			vma->vm_ops = &kl_vm_ops;
		}
	}
	mutex_unlock(&kl_lock);
	return ret;
}

static int kl_release(struct inode *inode, struct file *file)
{
	struct kl_buf *old;

	mutex_lock(&kl_lock);
	old = kl_current;
	kl_current = kl_alloc();
	mutex_unlock(&kl_lock);
	kl_put(old);
	return 0;
}

static const struct file_operations kl_fops = {
	.owner		= THIS_MODULE,
	.release	= kl_release,
	.mmap		= kl_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice kl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kreflog",
	.fops	= &kl_fops,
};

static int __init kl_init(void)
{
	int ret;

	kl_current = kl_alloc();
	if (!kl_current)
		return -ENOMEM;
	ret = misc_register(&kl_misc);
	if (ret)
		kl_put(kl_current);
	return ret;
}

static void __exit kl_exit(void)
{
	misc_deregister(&kl_misc);
	kl_put(kl_current);
}

module_init(kl_init);
module_exit(kl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference-counted trace buffer (gupcheck GUP004 test case)");
