/*
 * GUP004 case "release-frees-mapped-buffer", negative: each open file has its
 * own log buffer, kept in the context .open allocates. A mapping holds a
 * reference to the file it maps, so .release runs only after every mapping of
 * this buffer is gone: freeing it there is correct. Clean.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#define PL_BYTES	(8 * PAGE_SIZE)

struct pl_ctx {
	char *log;	/* vmalloc_user, this file's own */
};

static int pl_open(struct inode *inode, struct file *file)
{
	struct pl_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->log = vmalloc_user(PL_BYTES);
	if (!ctx->log) {
		kfree(ctx);
		return -ENOMEM;
	}
	file->private_data = ctx;
	return 0;
}

static int pl_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pl_ctx *ctx = file->private_data;

	return remap_vmalloc_range(vma, ctx->log, vma->vm_pgoff);
}

static void pl_free(struct pl_ctx *ctx)
{
	vfree(ctx->log);
	kfree(ctx);
}

static int pl_release(struct inode *inode, struct file *file)
{
	pl_free(file->private_data);
	return 0;
}

static const struct file_operations pl_fops = {
	.owner		= THIS_MODULE,
	.open		= pl_open,
	.release	= pl_release,
	.mmap		= pl_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice pl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "privlog",
	.fops	= &pl_fops,
};

module_misc_device(pl_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per-open log buffer (gupcheck GUP004 test case)");
