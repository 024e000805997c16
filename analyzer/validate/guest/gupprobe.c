// SPDX-License-Identifier: GPL-2.0
/*
 * gupprobe: companion test module of `gupcheck validate` (see gupprobe_uapi.h).
 *
 * The kmalloc failure and the refetch change are injected with kprobes on should_failslab()
 * and _copy_from_user(); both act only for the task that armed them, once. They need
 * CONFIG_KPROBES on x86-64; without it the two ioctls fail with -EOPNOTSUPP and the rest
 * of the probe still works.
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
#include <linux/sched.h>
#include <linux/kprobes.h>
#include <linux/uaccess.h>

#include "gupprobe_uapi.h"

#if defined(CONFIG_KPROBES) && defined(CONFIG_X86_64)
#define GUPPROBE_INJECT 1
#else
#define GUPPROBE_INJECT 0
#endif

static DEFINE_MUTEX(probe_lock);
static u8 *probe_kbuf;

/* Armed by one task; the kprobe handlers only act in that task's own syscalls. */
static struct {
	struct task_struct *task;
	unsigned int min_size;
	bool fired;
} fail_kmalloc;

static struct {
	struct task_struct *task;
	struct file *owner;
	struct page *page;	/* pinned while armed or until the next STATUS */
	unsigned int offset;
	u32 value;
	unsigned int left;
	bool fired;
} refetch;

static void describe_page(struct page *page, struct gupprobe_page *info, int own_refs)
{
	info->pfn = page_to_pfn(page);
	info->refcount = page_ref_count(page) - own_refs;
	info->mapcount = page_mapcount(page);
	info->pinned = folio_maybe_dma_pinned(page_folio(page));
	info->movable = page_zonenum(page) == ZONE_MOVABLE;
}

static long probe_page_info(struct gupprobe_page __user *uinfo)
{
	struct gupprobe_page info;
	struct page *page;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;
	if (get_user_pages_fast(info.addr, 1, 0, &page) != 1)
		return -EFAULT;
	describe_page(page, &info, 1);
	put_page(page);
	return copy_to_user(uinfo, &info, sizeof(info)) ? -EFAULT : 0;
}

static long probe_pfn_info(struct gupprobe_page __user *uinfo)
{
	struct gupprobe_page info;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;
	if (!pfn_valid(info.pfn))
		return -EINVAL;
	describe_page(pfn_to_page(info.pfn), &info, 0);
	return copy_to_user(uinfo, &info, sizeof(info)) ? -EFAULT : 0;
}

/* The device's view: what is in the page frame the driver keeps, whoever maps it now. */
static long probe_pfn_access(struct gupprobe_pfn_io __user *uio, bool fill)
{
	struct gupprobe_pfn_io io;
	u8 *va;

	if (copy_from_user(&io, uio, sizeof(io)))
		return -EFAULT;
	if (!pfn_valid(io.pfn))
		return -EINVAL;
	if (fill ? (io.offset > PAGE_SIZE || io.len > PAGE_SIZE - io.offset)
		 : io.offset > PAGE_SIZE - sizeof(u64))
		return -EINVAL;
	va = kmap_local_page(pfn_to_page(io.pfn));
	if (fill)
		memset(va + io.offset, (u8)io.value, io.len);
	else
		memcpy(&io.value, va + io.offset, sizeof(u64));
	kunmap_local(va);
	if (!fill && copy_to_user(uio, &io, sizeof(io)))
		return -EFAULT;
	return 0;
}

static long probe_kbuf_info(struct gupprobe_kbuf __user *ukbuf)
{
	struct gupprobe_kbuf kbuf = {
		.addr = (unsigned long)probe_kbuf,
		.size = PAGE_SIZE,
	};
	unsigned int i;

	for (i = 0; i < PAGE_SIZE; i++)
		kbuf.changed += probe_kbuf[i] != GUPPROBE_KBUF_PATTERN;
	return copy_to_user(ukbuf, &kbuf, sizeof(kbuf)) ? -EFAULT : 0;
}

#if GUPPROBE_INJECT
static noinline int gupprobe_return_enomem(void)
{
	return -ENOMEM;
}

/*
 * The handlers may run in the int3 trap's NMI-like context, where in_task() is false even for
 * the probed task's own calls: they check the task, and for kmalloc the GFP flags (an
 * allocation that may sleep is not made in interrupt context).
 */

/* should_failslab(struct kmem_cache *s, gfp_t flags): make it return -ENOMEM once. */
static int failslab_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct kmem_cache *s = (struct kmem_cache *)regs->di;
	gfp_t flags = (gfp_t)regs->si;

	if (READ_ONCE(fail_kmalloc.task) != current || !gfpflags_allow_blocking(flags))
		return 0;
	if (kmem_cache_size(s) < fail_kmalloc.min_size)
		return 0;
	WRITE_ONCE(fail_kmalloc.task, NULL);
	fail_kmalloc.fired = true;
	regs->ip = (unsigned long)gupprobe_return_enomem;	/* runs instead, returns to the caller */
	return 1;
}

/* _copy_from_user(to, from, n): the armed value lands in user memory before the nth copy. */
static int refetch_pre(struct kprobe *p, struct pt_regs *regs)
{
	u8 *va;

	if (READ_ONCE(refetch.task) != current)	/* never called in interrupt context */
		return 0;
	if (--refetch.left)
		return 0;
	va = kmap_local_page(refetch.page);
	memcpy(va + refetch.offset, &refetch.value, sizeof(refetch.value));
	kunmap_local(va);
	WRITE_ONCE(refetch.task, NULL);
	refetch.fired = true;
	return 0;
}

/* A post handler keeps a kprobe from being optimized into a jump, which would ignore regs->ip. */
static void no_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe failslab_kp = {
	.symbol_name = "should_failslab",
	.pre_handler = failslab_pre,
	.post_handler = no_post,
};
static struct kprobe refetch_kp = {
	.symbol_name = "_copy_from_user",
	.pre_handler = refetch_pre,
	.post_handler = no_post,
};
static bool failslab_ready, refetch_ready;
#endif

static void refetch_disarm(void)
{
	WRITE_ONCE(refetch.task, NULL);
	if (refetch.page)
		unpin_user_page(refetch.page);
	refetch.page = NULL;
	refetch.owner = NULL;
}

static long probe_fail_kmalloc(struct file *file, u64 __user *umin)
{
	u64 min_size;

#if GUPPROBE_INJECT
	if (!failslab_ready)
		return -EOPNOTSUPP;
#else
	return -EOPNOTSUPP;
#endif
	if (get_user(min_size, umin))
		return -EFAULT;
	if (!min_size || min_size > UINT_MAX)
		return -EINVAL;
	fail_kmalloc.min_size = min_size;
	fail_kmalloc.fired = false;
	WRITE_ONCE(fail_kmalloc.task, current);
	return 0;
}

static long probe_refetch(struct file *file, struct gupprobe_refetch __user *ureq)
{
	struct gupprobe_refetch req;
	struct page *page;

#if GUPPROBE_INJECT
	if (!refetch_ready)
		return -EOPNOTSUPP;
#else
	return -EOPNOTSUPP;
#endif
	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (!req.nth || offset_in_page(req.addr) > PAGE_SIZE - sizeof(u32))
		return -EINVAL;
	/* Held until the change is made and reported, or the file is closed. */
	if (pin_user_pages_fast(req.addr, 1, FOLL_WRITE | FOLL_LONGTERM, &page) != 1)
		return -EFAULT;
	refetch_disarm();
	refetch.page = page;
	refetch.owner = file;
	refetch.offset = offset_in_page(req.addr);
	refetch.value = req.value;
	refetch.left = req.nth;
	refetch.fired = false;
	WRITE_ONCE(refetch.task, current);
	return 0;
}

static long probe_status(struct gupprobe_status __user *ustatus)
{
	struct gupprobe_status status = {
		.kmalloc_failed = fail_kmalloc.fired,
		.refetch_fired = refetch.fired,
		.refetch_left = refetch.fired ? 0 : refetch.left,
	};

	if (refetch.fired)
		refetch_disarm();
	return copy_to_user(ustatus, &status, sizeof(status)) ? -EFAULT : 0;
}

static long probe_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&probe_lock);
	switch (cmd) {
	case GUPPROBE_PAGE_INFO:
		ret = probe_page_info(uarg);
		break;
	case GUPPROBE_PFN_INFO:
		ret = probe_pfn_info(uarg);
		break;
	case GUPPROBE_PFN_READ:
		ret = probe_pfn_access(uarg, false);
		break;
	case GUPPROBE_PFN_FILL:
		ret = probe_pfn_access(uarg, true);
		break;
	case GUPPROBE_KBUF:
		ret = probe_kbuf_info(uarg);
		break;
	case GUPPROBE_KBUF_RESET:
		memset(probe_kbuf, GUPPROBE_KBUF_PATTERN, PAGE_SIZE);
		ret = 0;
		break;
	case GUPPROBE_FAIL_KMALLOC:
		ret = probe_fail_kmalloc(file, uarg);
		break;
	case GUPPROBE_REFETCH:
		ret = probe_refetch(file, uarg);
		break;
	case GUPPROBE_STATUS:
		ret = probe_status(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&probe_lock);
	return ret;
}

static int probe_release(struct inode *inode, struct file *file)
{
	mutex_lock(&probe_lock);
	if (READ_ONCE(fail_kmalloc.task) == current)
		WRITE_ONCE(fail_kmalloc.task, NULL);
	if (refetch.owner == file)
		refetch_disarm();
	mutex_unlock(&probe_lock);
	return 0;
}

static const struct file_operations probe_fops = {
	.owner		= THIS_MODULE,
	.release	= probe_release,
	.unlocked_ioctl	= probe_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice probe_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "gupprobe",
	.fops	= &probe_fops,
};

static int __init probe_init(void)
{
	int ret;

	probe_kbuf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!probe_kbuf)
		return -ENOMEM;
	memset(probe_kbuf, GUPPROBE_KBUF_PATTERN, PAGE_SIZE);
#if GUPPROBE_INJECT
	failslab_ready = register_kprobe(&failslab_kp) == 0;
	refetch_ready = register_kprobe(&refetch_kp) == 0;
	if (!failslab_ready || !refetch_ready)
		pr_info("gupprobe: injection unavailable (should_failslab %s, _copy_from_user %s)\n",
			failslab_ready ? "ok" : "no", refetch_ready ? "ok" : "no");
#endif
	ret = misc_register(&probe_misc);
	if (ret) {
#if GUPPROBE_INJECT
		if (failslab_ready)
			unregister_kprobe(&failslab_kp);
		if (refetch_ready)
			unregister_kprobe(&refetch_kp);
#endif
		kfree(probe_kbuf);
	}
	return ret;
}

static void __exit probe_exit(void)
{
	misc_deregister(&probe_misc);
#if GUPPROBE_INJECT
	if (failslab_ready)
		unregister_kprobe(&failslab_kp);
	if (refetch_ready)
		unregister_kprobe(&refetch_kp);
#endif
	refetch_disarm();
	kfree(probe_kbuf);
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck validate: companion test probe (page frames, injected faults)");
