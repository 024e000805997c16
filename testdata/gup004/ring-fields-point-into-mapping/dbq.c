/*
 * GUP004 case "ring-fields-point-into-mapping": each open file gets a
 * doorbell queue. One coherent DMA allocation holds an info page followed by
 * the slot pages; mmap hands the whole allocation to user space. The queue
 * keeps typed pointers into it in its own fields (q->info, q->slots), set once
 * in open, and every later access goes through them. A second area, a few
 * statistics pages, is handed out page by page from a .fault handler and
 * reached through q->stat_va[], the kernel address of each page.
 *
 * SUBMIT and RESET update the queue under q->lock. RETIRE writes the info
 * page, a slot and a statistics page without it: flagged. Look-alikes:
 * q->shadow is a kernel-only copy of the slots, never mapped, touched by
 * RETIRE without the lock as well; open() fills the queue before anyone can
 * map it.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <linux/dma-mapping.h>
#include <linux/uaccess.h>

#define DBQ_SLOTS	128
#define DBQ_SLOT_PAGES	DIV_ROUND_UP(DBQ_SLOTS * sizeof(struct dbq_slot), PAGE_SIZE)
#define DBQ_RING_SIZE	((1 + DBQ_SLOT_PAGES) * PAGE_SIZE)
#define DBQ_STAT_PAGES	2
#define DBQ_STAT_PGOFF	64	/* statistics pages start at this page offset */

#define DBQ_IOC_MAGIC	'q'
#define DBQ_IOC_SUBMIT	_IOW(DBQ_IOC_MAGIC, 1, struct dbq_slot)
#define DBQ_IOC_RETIRE	_IO(DBQ_IOC_MAGIC, 2)
#define DBQ_IOC_RESET	_IO(DBQ_IOC_MAGIC, 3)

struct dbq_info {
	u32 head;		/* next slot the driver fills */
	u32 tail;		/* next slot the device completes */
	u32 doorbell;
	u32 errors;
};

struct dbq_slot {
	u64 addr;
	u32 len;
	u32 flags;
};

struct dbq {
	struct mutex lock;
	void *vaddr;			/* info page + slot pages, mapped by mmap */
	dma_addr_t dma;
	struct dbq_info *info;		/* vaddr */
	struct dbq_slot *slots;		/* vaddr + PAGE_SIZE */
	struct dbq_slot *shadow;	/* kernel-only copy of the slots */
	struct page *stat_pages[DBQ_STAT_PAGES];
	u32 *stat_va[DBQ_STAT_PAGES];	/* page_address() of each */
};

static struct miscdevice dbq_misc;

static long dbq_submit(struct dbq *q, const struct dbq_slot *req)
{
	u32 head;

	mutex_lock(&q->lock);
	head = q->info->head;
	if (head - q->info->tail >= DBQ_SLOTS) {
		mutex_unlock(&q->lock);
		return -EBUSY;
	}
	q->slots[head % DBQ_SLOTS] = *req;
	q->shadow[head % DBQ_SLOTS] = *req;
	q->info->head = head + 1;
	q->stat_va[0][0]++;
	mutex_unlock(&q->lock);
	return 0;
}

static void dbq_reset(struct dbq *q)
{
	int i;

	mutex_lock(&q->lock);
	memset(q->slots, 0, DBQ_SLOTS * sizeof(*q->slots));
	memset(q->shadow, 0, DBQ_SLOTS * sizeof(*q->shadow));
	q->info->head = 0;
	q->info->tail = 0;
	for (i = 0; i < DBQ_STAT_PAGES; i++)
		memset(q->stat_va[i], 0, PAGE_SIZE);
	mutex_unlock(&q->lock);
}

/* Positive: completes the oldest slot without the lock SUBMIT and RESET hold. */
static void dbq_retire(struct dbq *q)
{
	u32 tail = q->info->tail; /* expect: GUP004 */

	q->slots[tail % DBQ_SLOTS].flags = 0; /* expect: GUP004 */
	q->shadow[tail % DBQ_SLOTS].flags = 0;
	q->info->tail = tail + 1; /* expect: GUP004 */
	q->stat_va[0][1]++; /* expect: GUP004 */
}

static long dbq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dbq *q = file->private_data;
	struct dbq_slot req;

	switch (cmd) {
	case DBQ_IOC_SUBMIT:
		if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
			return -EFAULT;
		return dbq_submit(q, &req);
	case DBQ_IOC_RETIRE:
		dbq_retire(q);
		return 0;
	case DBQ_IOC_RESET:
		dbq_reset(q);
		return 0;
	default:
		return -ENOTTY;
	}
}

static vm_fault_t dbq_stat_fault(struct vm_fault *vmf)
{
	struct dbq *q = vmf->vma->vm_private_data;
	unsigned long index = vmf->pgoff - DBQ_STAT_PGOFF;

	if (index >= DBQ_STAT_PAGES)
		return VM_FAULT_SIGBUS;
	get_page(q->stat_pages[index]);
	vmf->page = q->stat_pages[index];
	return 0;
}

static const struct vm_operations_struct dbq_stat_ops = {
	.fault = dbq_stat_fault,
};

static int dbq_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct dbq *q = file->private_data;

	if (vma->vm_pgoff >= DBQ_STAT_PGOFF) {
		vma->vm_private_data = q;
		vma->vm_ops = &dbq_stat_ops;
		return 0;
	}
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > DBQ_RING_SIZE)
		return -EINVAL;
	return dma_mmap_coherent(dbq_misc.this_device, vma, q->vaddr, q->dma,
				 vma->vm_end - vma->vm_start);
}

static int dbq_release(struct inode *inode, struct file *file)
{
	struct dbq *q = file->private_data;
	int i;

	for (i = 0; i < DBQ_STAT_PAGES; i++)
		if (q->stat_pages[i])
			__free_page(q->stat_pages[i]);
	kfree(q->shadow);
	dma_free_coherent(dbq_misc.this_device, DBQ_RING_SIZE, q->vaddr, q->dma);
	kfree(q);
	return 0;
}

/* Look-alike: nobody can map the queue before open() returns. */
static int dbq_open(struct inode *inode, struct file *file)
{
	struct dbq *q;
	void *vaddr;
	int i;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return -ENOMEM;
	mutex_init(&q->lock);
	vaddr = dma_alloc_coherent(dbq_misc.this_device, DBQ_RING_SIZE, &q->dma, GFP_KERNEL);
	q->vaddr = vaddr;
	q->shadow = kcalloc(DBQ_SLOTS, sizeof(*q->shadow), GFP_KERNEL);
	if (!vaddr || !q->shadow)
		goto fail;
	q->info = vaddr;
	q->slots = vaddr + PAGE_SIZE;
	q->info->doorbell = DBQ_SLOTS;
	for (i = 0; i < DBQ_STAT_PAGES; i++) {
		q->stat_pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!q->stat_pages[i])
			goto fail;
		q->stat_va[i] = page_address(q->stat_pages[i]);
	}
	file->private_data = q;
	return 0;
fail:
	file->private_data = q;
	dbq_release(inode, file);
	return -ENOMEM;
}

static const struct file_operations dbq_fops = {
	.owner		= THIS_MODULE,
	.open		= dbq_open,
	.release	= dbq_release,
	.unlocked_ioctl	= dbq_ioctl,
	.mmap		= dbq_mmap,
};

static struct miscdevice dbq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "dbq",
	.fops	= &dbq_fops,
};

static int __init dbq_init(void)
{
	int ret = misc_register(&dbq_misc);

	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(dbq_misc.this_device, DMA_BIT_MASK(32));
	if (ret)
		misc_deregister(&dbq_misc);
	return ret;
}

static void __exit dbq_exit(void)
{
	misc_deregister(&dbq_misc);
}

module_init(dbq_init);
module_exit(dbq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Doorbell queue with typed pointers into its mapping (gupcheck GUP004 test case)");
