/*
 * GUP001 case "mmu-notifier-mirror": the device mirrors a user range without
 * keeping pins: an mmu_interval_notifier invalidates the kernel copy, and each
 * sync pins short-term, copies, unpins and retries on a collision (clean).
 * A debug ioctl keeps one FOLL_GET page in a global (error).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define MIRROR_MAX_PAGES	256

struct mirror_range {
	__u64 addr;		/* page aligned */
	__u64 len;		/* page aligned */
};

struct mirror_word {
	__u64 offset;		/* into the mirrored range */
	__u64 value;		/* out */
};

#define MIRROR_IOC_MAGIC	'm'
#define MIRROR_IOC_REGISTER	_IOW(MIRROR_IOC_MAGIC, 1, struct mirror_range)
#define MIRROR_IOC_SYNC		_IO(MIRROR_IOC_MAGIC, 2)
#define MIRROR_IOC_READ_WORD	_IOWR(MIRROR_IOC_MAGIC, 3, struct mirror_word)
#define MIRROR_IOC_PEEK_WORD	_IOWR(MIRROR_IOC_MAGIC, 4, struct mirror_word)
#define MIRROR_IOC_DEBUG_KEEP	_IOW(MIRROR_IOC_MAGIC, 5, __u64)

struct mirror_ctx {
	struct mutex lock;
	struct mmu_interval_notifier notifier;
	bool registered;
	bool valid;		/* snapshot matches user memory */
	unsigned long start;
	unsigned long nr_pages;
	u8 *snapshot;		/* kernel copy, nr_pages pages */
};

/* Debug aid: the page last looked at with MIRROR_IOC_DEBUG_KEEP. */
static DEFINE_MUTEX(mirror_debug_lock);
static struct page *mirror_debug_page;

static bool mirror_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mirror_ctx *ctx = container_of(mni, struct mirror_ctx, notifier);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&ctx->lock);
	else if (!mutex_trylock(&ctx->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	ctx->valid = false;
	mutex_unlock(&ctx->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_mni_ops = {
	.invalidate = mirror_invalidate,
};

static long mirror_register(struct mirror_ctx *ctx, struct mirror_range __user *urange)
{
	struct mirror_range r;
	u8 *snapshot;
	int ret;

	if (copy_from_user(&r, urange, sizeof(r)))
		return -EFAULT;
	if (!r.len || !PAGE_ALIGNED(r.addr) || !PAGE_ALIGNED(r.len))
		return -EINVAL;
	if (r.len >> PAGE_SHIFT > MIRROR_MAX_PAGES)
		return -EINVAL;
	snapshot = vzalloc(r.len);
	if (!snapshot)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	if (ctx->registered) {
		mutex_unlock(&ctx->lock);
		vfree(snapshot);
		return -EBUSY;
	}
	ctx->start = r.addr;
	ctx->nr_pages = r.len >> PAGE_SHIFT;
	ctx->snapshot = snapshot;
	ctx->valid = false;
	mutex_unlock(&ctx->lock);

	ret = mmu_interval_notifier_insert(&ctx->notifier, current->mm, r.addr, r.len,
					   &mirror_mni_ops);
	mutex_lock(&ctx->lock);
	if (ret) {
		ctx->snapshot = NULL;
		vfree(snapshot);
	} else {
		ctx->registered = true;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

/* Negative: short-term pins, unpinned before the collision check. */
static long mirror_sync(struct mirror_ctx *ctx)
{
	struct page **pages;
	unsigned long seq, i;
	int pinned;

	if (!ctx->registered)
		return -ENXIO;
	pages = kvmalloc_array(ctx->nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
again:
	seq = mmu_interval_read_begin(&ctx->notifier);
	pinned = pin_user_pages_fast(ctx->start, ctx->nr_pages, 0, pages);
	if (pinned < 0) {
		kvfree(pages);
		return pinned;
	}
	if (pinned != ctx->nr_pages) {
		unpin_user_pages(pages, pinned);
		kvfree(pages);
		return -EFAULT;
	}
	mutex_lock(&ctx->lock);
	for (i = 0; i < ctx->nr_pages; i++)
		memcpy_from_page((char *)ctx->snapshot + i * PAGE_SIZE, pages[i], 0, PAGE_SIZE);
	unpin_user_pages(pages, pinned);
	if (mmu_interval_read_retry(&ctx->notifier, seq)) {
		mutex_unlock(&ctx->lock);
		goto again;
	}
	ctx->valid = true;
	mutex_unlock(&ctx->lock);
	kvfree(pages);
	return 0;
}

/* Reads a word of the snapshot; no pages involved. */
static long mirror_read_word(struct mirror_ctx *ctx, struct mirror_word __user *uw)
{
	struct mirror_word w;
	long ret = 0;

	if (copy_from_user(&w, uw, sizeof(w)))
		return -EFAULT;
	mutex_lock(&ctx->lock);
	if (!ctx->valid)
		ret = -EAGAIN;	/* call MIRROR_IOC_SYNC first */
	else if (w.offset > (ctx->nr_pages << PAGE_SHIFT) - sizeof(u64) || !IS_ALIGNED(w.offset, 8))
		ret = -EINVAL;
	else
		memcpy(&w.value, ctx->snapshot + w.offset, sizeof(w.value));
	mutex_unlock(&ctx->lock);
	if (!ret && copy_to_user(uw, &w, sizeof(w)))
		ret = -EFAULT;
	return ret;
}

/* Negative: one page pinned to read a live word, unpinned at once. */
static long mirror_peek_word(struct mirror_ctx *ctx, struct mirror_word __user *uw)
{
	struct mirror_word w;
	struct page *page;
	unsigned long addr;

	if (copy_from_user(&w, uw, sizeof(w)))
		return -EFAULT;
	if (!ctx->registered || !IS_ALIGNED(w.offset, 8) ||
	    w.offset > (ctx->nr_pages << PAGE_SHIFT) - sizeof(u64))
		return -EINVAL;
	addr = ctx->start + w.offset;
	if (pin_user_pages_fast(addr, 1, 0, &page) != 1)
		return -EFAULT;
	memcpy_from_page((char *)&w.value, page, offset_in_page(addr), sizeof(w.value));
	unpin_user_page(page);
	if (copy_to_user(uw, &w, sizeof(w)))
		return -EFAULT;
	return 0;
}

/* Positive: the debug page reference outlives the ioctl, kept in a global. */
static long mirror_debug_keep(u64 __user *uaddr)
{
	struct page *page;
	u64 addr;

	if (get_user(addr, uaddr))
		return -EFAULT;
	if (get_user_pages_fast(addr, 1, 0, &page) != 1) /* expect: GUP001 */
		return -EFAULT;
	mutex_lock(&mirror_debug_lock);
	if (mirror_debug_page)
		put_page(mirror_debug_page);
	mirror_debug_page = page;
	mutex_unlock(&mirror_debug_lock);
	pr_debug("mirrordev: keeping page %px\n", page);
	return 0;
}

static long mirror_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mirror_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MIRROR_IOC_REGISTER:
		return mirror_register(ctx, uarg);
	case MIRROR_IOC_SYNC:
		return mirror_sync(ctx);
	case MIRROR_IOC_READ_WORD:
		return mirror_read_word(ctx, uarg);
	case MIRROR_IOC_PEEK_WORD:
		return mirror_peek_word(ctx, uarg);
	case MIRROR_IOC_DEBUG_KEEP:
		return mirror_debug_keep(uarg);
	default:
		return -ENOTTY;
	}
}

static int mirror_open(struct inode *inode, struct file *file)
{
	struct mirror_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int mirror_release(struct inode *inode, struct file *file)
{
	struct mirror_ctx *ctx = file->private_data;

	if (ctx->registered)
		mmu_interval_notifier_remove(&ctx->notifier);
	vfree(ctx->snapshot);
	kfree(ctx);
	return 0;
}

static const struct file_operations mirror_fops = {
	.owner		= THIS_MODULE,
	.open		= mirror_open,
	.release	= mirror_release,
	.unlocked_ioctl	= mirror_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice mirror_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mirrordev",
	.fops	= &mirror_fops,
};

static int __init mirror_init(void)
{
	return misc_register(&mirror_misc);
}

static void __exit mirror_exit(void)
{
	misc_deregister(&mirror_misc);
	if (mirror_debug_page)
		put_page(mirror_debug_page);
}

module_init(mirror_init);
module_exit(mirror_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("User memory mirror (gupcheck GUP001 test case)");
