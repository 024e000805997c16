/*
 * GUP004 case "pinned-mailbox-double-fetch": no mmap at all. A process
 * registers a mailbox in its own memory; the driver pins those pages for as
 * long as the file is open and maps them into the kernel with vmap(). The
 * process keeps writing its mailbox whenever it likes: to the driver the
 * mailbox is as volatile as a page it had exported through mmap.
 *
 * Positives: KICK checks msg->len and reads it again for the copy; PEEK maps
 * the first page with kmap_local_page(), checks hdr->op and indexes a table
 * with a fresh read of it. Look-alikes: KICK_ONCE reads the length once with
 * READ_ONCE() and uses only its checked copy; the register ioctl fills the
 * mailbox header before it returns.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define MBX_BODY	512
#define MBX_OPS		8
#define MBX_MAX_PAGES	4

struct mbx_register {
	__u64 addr;		/* page aligned */
	__u64 size;
};

#define MBX_IOC_MAGIC		'x'
#define MBX_IOC_REGISTER	_IOW(MBX_IOC_MAGIC, 1, struct mbx_register)
#define MBX_IOC_KICK		_IO(MBX_IOC_MAGIC, 2)
#define MBX_IOC_KICK_ONCE	_IO(MBX_IOC_MAGIC, 3)
#define MBX_IOC_PEEK		_IO(MBX_IOC_MAGIC, 4)

/* The mailbox, in the registering process's memory. */
struct mbx_msg {
	u32 op;
	u32 len;
	u32 version;
	u32 pad;
	u8 body[MBX_BODY];
};

struct mbx_ctx {
	struct mutex lock;
	struct page **pages;
	unsigned int npages;
	struct mbx_msg *msg;	/* vmap() of the pinned pages */
	u8 cmd[MBX_BODY];
	u32 counts[MBX_OPS];
};

static long mbx_register(struct mbx_ctx *ctx, struct mbx_register __user *arg)
{
	struct mbx_register reg;
	struct page **pages;
	unsigned int n;
	int pinned;

	if (copy_from_user(&reg, arg, sizeof(reg)))
		return -EFAULT;
	if (!PAGE_ALIGNED(reg.addr) || reg.size < sizeof(struct mbx_msg) ||
	    reg.size > MBX_MAX_PAGES * PAGE_SIZE)
		return -EINVAL;
	if (ctx->pages)
		return -EBUSY;
	n = DIV_ROUND_UP(reg.size, PAGE_SIZE);
	pages = kcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(reg.addr, n, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (pinned != n) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		kfree(pages);
		return -EFAULT;
	}
	ctx->msg = vmap(pages, n, VM_MAP, PAGE_KERNEL);
	if (!ctx->msg) {
		unpin_user_pages(pages, n);
		kfree(pages);
		return -ENOMEM;
	}
	ctx->pages = pages;
	ctx->npages = n;
	ctx->msg->version = 1;
	return 0;
}

/* Positive: the length is checked in the mailbox and read from it again. */
static long mbx_kick(struct mbx_ctx *ctx)
{
	struct mbx_msg *msg = ctx->msg;

	if (msg->len > MBX_BODY)
		return -EINVAL;
	memcpy(ctx->cmd, msg->body, msg->len); /* expect: GUP004 */
	return 0;
}

/* Look-alike: one read of the length, the checked copy used. */
static long mbx_kick_once(struct mbx_ctx *ctx)
{
	u32 len = READ_ONCE(ctx->msg->len);

	if (len > MBX_BODY)
		return -EINVAL;
	memcpy(ctx->cmd, ctx->msg->body, len);
	return 0;
}

/* Positive: the first page mapped on its own, the op checked then re-read. */
static long mbx_peek(struct mbx_ctx *ctx)
{
	struct mbx_msg *hdr = kmap_local_page(ctx->pages[0]);
	long ret = -EINVAL;

	if (hdr->op < MBX_OPS)
		ret = ++ctx->counts[hdr->op]; /* expect: GUP004 */
	kunmap_local(hdr);
	return ret;
}

static long mbx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mbx_ctx *ctx = file->private_data;
	long ret;

	mutex_lock(&ctx->lock);
	if (cmd == MBX_IOC_REGISTER)
		ret = mbx_register(ctx, (struct mbx_register __user *)arg);
	else if (!ctx->msg)
		ret = -ENXIO;
	else if (cmd == MBX_IOC_KICK)
		ret = mbx_kick(ctx);
	else if (cmd == MBX_IOC_KICK_ONCE)
		ret = mbx_kick_once(ctx);
	else if (cmd == MBX_IOC_PEEK)
		ret = mbx_peek(ctx);
	else
		ret = -ENOTTY;
	mutex_unlock(&ctx->lock);
	return ret;
}

static int mbx_open(struct inode *inode, struct file *file)
{
	struct mbx_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int mbx_release(struct inode *inode, struct file *file)
{
	struct mbx_ctx *ctx = file->private_data;

	if (ctx->pages) {
		vunmap(ctx->msg);
		unpin_user_pages_dirty_lock(ctx->pages, ctx->npages, true);
		kfree(ctx->pages);
	}
	kfree(ctx);
	return 0;
}

static const struct file_operations mbx_fops = {
	.owner		= THIS_MODULE,
	.open		= mbx_open,
	.release	= mbx_release,
	.unlocked_ioctl	= mbx_ioctl,
};

static struct miscdevice mbx_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mailbox",
	.fops	= &mbx_fops,
};

module_misc_device(mbx_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mailbox in pinned user memory (gupcheck GUP004 test case)");
