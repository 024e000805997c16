/*
 * GUP001 case "goto-skips-release": a synchronous transfer pins the user
 * buffer, builds a descriptor table and unpins before returning. In the
 * positive, a failure after the pin jumps to a label past the unpin (leak);
 * in the negative twin the label unpins.
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
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define DMAQ_MAX_LEN		(1UL << 20)
#define DMAQ_RING_SIZE		(1UL << 20)

struct dmaq_submit {
	__u64 addr;
	__u64 len;
	__u32 flags;
#define DMAQ_F_VERIFY	0x1
	__u32 status;		/* out */
};

#define DMAQ_IOC_MAGIC		'q'
#define DMAQ_IOC_SUBMIT		_IOWR(DMAQ_IOC_MAGIC, 1, struct dmaq_submit)
#define DMAQ_IOC_SUBMIT_V2	_IOWR(DMAQ_IOC_MAGIC, 2, struct dmaq_submit)

struct dmaq_desc {
	struct page *page;
	u32 offset;
	u32 len;
};

struct dmaq_dev {
	struct mutex lock;
	u8 *ring;		/* DMAQ_RING_SIZE bytes */
	size_t head;
	u32 completed;
};

static struct dmaq_dev dmaq;

static int dmaq_build(struct dmaq_desc *desc, struct page **pages, unsigned long addr, size_t len)
{
	size_t off = offset_in_page(addr);
	int i = 0;

	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - off);

		desc[i].page = pages[i];
		desc[i].offset = off;
		desc[i].len = n;
		len -= n;
		off = 0;
		i++;
	}
	return i;
}

static u32 dmaq_run(const struct dmaq_desc *desc, int n)
{
	u32 status = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (dmaq.head + desc[i].len > DMAQ_RING_SIZE)
			dmaq.head = 0;
		memcpy_from_page((char *)dmaq.ring + dmaq.head, desc[i].page,
				 desc[i].offset, desc[i].len);
		dmaq.head += desc[i].len;
		status += desc[i].len;
	}
	dmaq.completed++;
	return status;
}

static int dmaq_get_req(struct dmaq_submit *req, struct dmaq_submit __user *ureq, int *nr)
{
	if (copy_from_user(req, ureq, sizeof(*req)))
		return -EFAULT;
	if (!req->len || req->len > DMAQ_MAX_LEN || req->addr + req->len < req->addr)
		return -EINVAL;
	*nr = PFN_UP(offset_in_page(req->addr) + req->len);
	return 0;
}

/* Positive: the descriptor allocation failure skips the unpin. */
static long dmaq_submit(struct dmaq_submit __user *ureq)
{
	struct dmaq_submit req;
	struct dmaq_desc *desc;
	struct page **pages;
	int nr, pinned;
	long ret;

	ret = dmaq_get_req(&req, ureq, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	pinned = pin_user_pages_fast(req.addr, nr, 0, pages); /* expect: GUP001 */
	if (pinned < 0) {
		ret = pinned;
		goto out;
	}
	if (pinned != nr) {
		ret = -EFAULT;
		goto out_unpin;
	}

	desc = kmalloc_array(nr, sizeof(*desc), GFP_KERNEL);
	if (!desc) {
		ret = -ENOMEM;
		goto out;
	}
	req.status = dmaq_run(desc, dmaq_build(desc, pages, req.addr, req.len));
	kfree(desc);
	ret = 0;
	if (put_user(req.status, &ureq->status))
		ret = -EFAULT;

out_unpin:
	unpin_user_pages(pages, pinned);
out:
	kvfree(pages);
	return ret;
}

/* Negative: every failure after the pin goes through err_unpin. */
static long dmaq_submit_v2(struct dmaq_submit __user *ureq)
{
	struct dmaq_submit req;
	struct dmaq_desc *desc;
	struct page **pages;
	int nr, pinned;
	long ret;

	ret = dmaq_get_req(&req, ureq, &nr);
	if (ret)
		return ret;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	pinned = pin_user_pages_fast(req.addr, nr, 0, pages);
	if (pinned < 0) {
		ret = pinned;
		goto err_free;
	}
	if (pinned != nr) {
		ret = -EFAULT;
		goto err_unpin;
	}

	desc = kmalloc_array(nr, sizeof(*desc), GFP_KERNEL);
	if (!desc) {
		ret = -ENOMEM;
		goto err_unpin;
	}
	req.status = dmaq_run(desc, dmaq_build(desc, pages, req.addr, req.len));
	kfree(desc);
	unpin_user_pages(pages, pinned);
	kvfree(pages);
	if (put_user(req.status, &ureq->status))
		return -EFAULT;
	return 0;

err_unpin:
	unpin_user_pages(pages, pinned);
err_free:
	kvfree(pages);
	return ret;
}

static long dmaq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&dmaq.lock);
	switch (cmd) {
	case DMAQ_IOC_SUBMIT:
		ret = dmaq_submit(uarg);
		break;
	case DMAQ_IOC_SUBMIT_V2:
		ret = dmaq_submit_v2(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&dmaq.lock);
	return ret;
}

static const struct file_operations dmaq_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= dmaq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice dmaq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "dmaq",
	.fops	= &dmaq_fops,
};

static int __init dmaq_init(void)
{
	int ret;

	mutex_init(&dmaq.lock);
	dmaq.ring = vzalloc(DMAQ_RING_SIZE);
	if (!dmaq.ring)
		return -ENOMEM;
	ret = misc_register(&dmaq_misc);
	if (ret)
		vfree(dmaq.ring);
	return ret;
}

static void __exit dmaq_exit(void)
{
	misc_deregister(&dmaq_misc);
	vfree(dmaq.ring);
}

module_init(dmaq_init);
module_exit(dmaq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Synchronous DMA queue (gupcheck GUP001 test case)");
