/*
 * GUP004 case "ring-length-double-fetch": each open file gets a message page
 * (vmalloc_user, mapped writable with remap_vmalloc_range()). User space
 * writes a message and its length into the page and asks the driver to take
 * it (SEND) or to post a reply into one of its slots (REPLY).
 *
 * Positives: SEND_UNSAFE checks hdr->len and reads it again for the copy
 * (a double fetch: error); REPLY_UNSAFE indexes the reply table with
 * hdr->slot straight from the page; PEEK copies READ_ONCE(hdr->len) into a
 * local but never checks it before using it as a length.
 * Negatives: SEND reads the length once with READ_ONCE, bounds the copy and
 * uses only the copy; REPLY bounds its copy of the slot; STATS masks the
 * index with the table size.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define MR_MSG_MAX	240
#define MR_SLOTS	16	/* a power of two */

#define MR_IOC_MAGIC		'm'
#define MR_IOC_SEND		_IO(MR_IOC_MAGIC, 1)
#define MR_IOC_SEND_UNSAFE	_IO(MR_IOC_MAGIC, 2)
#define MR_IOC_REPLY		_IOW(MR_IOC_MAGIC, 3, __u32)
#define MR_IOC_REPLY_UNSAFE	_IOW(MR_IOC_MAGIC, 4, __u32)
#define MR_IOC_PEEK		_IO(MR_IOC_MAGIC, 5)
#define MR_IOC_STATS		_IO(MR_IOC_MAGIC, 6)

/* The page user space maps: it writes every field. */
struct mr_page {
	u32 len;		/* bytes in msg */
	u32 slot;		/* reply slot */
	u32 stat;		/* statistics slot to bump */
	u8 msg[MR_MSG_MAX];
};

struct mr_ctx {
	struct mutex lock;
	struct mr_page *page;
	u8 inbox[MR_MSG_MAX];
	u32 replies[MR_SLOTS];
	u32 stats[MR_SLOTS];
};

static long mr_send(struct mr_ctx *ctx)
{
	struct mr_page *pg = ctx->page;
	u32 len = READ_ONCE(pg->len);

	if (len > MR_MSG_MAX)
		return -EINVAL;
	memcpy(ctx->inbox, pg->msg, len);
	return len;
}

static long mr_send_unsafe(struct mr_ctx *ctx)
{
	struct mr_page *pg = ctx->page;

	if (pg->len > MR_MSG_MAX)
		return -EINVAL;
	memcpy(ctx->inbox, pg->msg, pg->len); /* expect: GUP004 */
	return 0;
}

static long mr_reply(struct mr_ctx *ctx, u32 value)
{
	u32 slot = READ_ONCE(ctx->page->slot);

	if (slot >= MR_SLOTS)
		return -EINVAL;
	ctx->replies[slot] = value;
	return 0;
}

static long mr_reply_unsafe(struct mr_ctx *ctx, u32 value)
{
	ctx->replies[ctx->page->slot] = value; /* expect: GUP004 */
	return 0;
}

static long mr_peek(struct mr_ctx *ctx)
{
	u32 len = READ_ONCE(ctx->page->len);

	memcpy(ctx->inbox, ctx->page->msg, len); /* expect: GUP004 */
	return len;
}

static long mr_stats(struct mr_ctx *ctx)
{
	u32 stat = READ_ONCE(ctx->page->stat);

	return ++ctx->stats[stat & (MR_SLOTS - 1)];
}

static long mr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mr_ctx *ctx = file->private_data;
	u32 value;
	long ret;

	if (cmd == MR_IOC_REPLY || cmd == MR_IOC_REPLY_UNSAFE) {
		if (get_user(value, (u32 __user *)arg))
			return -EFAULT;
	}
	mutex_lock(&ctx->lock);
	switch (cmd) {
	case MR_IOC_SEND:
		ret = mr_send(ctx);
		break;
	case MR_IOC_SEND_UNSAFE:
		ret = mr_send_unsafe(ctx);
		break;
	case MR_IOC_REPLY:
		ret = mr_reply(ctx, value);
		break;
	case MR_IOC_REPLY_UNSAFE:
		ret = mr_reply_unsafe(ctx, value);
		break;
	case MR_IOC_PEEK:
		ret = mr_peek(ctx);
		break;
	case MR_IOC_STATS:
		ret = mr_stats(ctx);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int mr_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mr_ctx *ctx = file->private_data;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	return remap_vmalloc_range(vma, ctx->page, 0);
}

static int mr_open(struct inode *inode, struct file *file)
{
	struct mr_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->page = vmalloc_user(PAGE_SIZE);
	if (!ctx->page) {
		kfree(ctx);
		return -ENOMEM;
	}
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int mr_release(struct inode *inode, struct file *file)
{
	struct mr_ctx *ctx = file->private_data;

	/* each mapping holds a reference to this file: none is left */
	vfree(ctx->page);
	kfree(ctx);
	return 0;
}

static const struct file_operations mr_fops = {
	.owner		= THIS_MODULE,
	.open		= mr_open,
	.release	= mr_release,
	.unlocked_ioctl	= mr_ioctl,
	.mmap		= mr_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice mr_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "msgring",
	.fops	= &mr_fops,
};

module_misc_device(mr_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Message page shared with user space (gupcheck GUP004 test case)");
