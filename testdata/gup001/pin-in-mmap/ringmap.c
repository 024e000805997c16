/*
 * GUP001 case "pin-in-mmap": mmap() of the device maps its command ring and
 * also pins the user's completion buffer, kept in the struct that
 * vma->vm_private_data points to until vm_ops->close. The "ringmap" device
 * takes FOLL_GET references (error); "ringmap_lt" pins FOLL_LONGTERM (clean).
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

#define RING_SIZE		(64 * 1024)
#define RING_COMP_PAGES		4

#define RING_IOC_MAGIC		'R'
#define RING_IOC_SET_COMP	_IOW(RING_IOC_MAGIC, 1, __u64)
#define RING_IOC_COMPLETE	_IOW(RING_IOC_MAGIC, 2, __u32)

struct ring_file {
	struct mutex lock;
	u64 comp_addr;			/* user completion buffer, RING_COMP_PAGES pages */
	void *ring;			/* command ring, mapped by mmap() */
	struct ring_mapping *map;	/* live mapping, if any */
};

struct ring_mapping {
	struct ring_file *rf;
	struct page *comp_pages[RING_COMP_PAGES];
	bool longterm;
	u32 comp_head;
};

static void ring_vm_close(struct vm_area_struct *vma)
{
	struct ring_mapping *map = vma->vm_private_data;
	struct ring_file *rf = map->rf;
	int i;

	mutex_lock(&rf->lock);
	if (rf->map == map)
		rf->map = NULL;
	mutex_unlock(&rf->lock);
	if (map->longterm) {
		unpin_user_pages_dirty_lock(map->comp_pages, RING_COMP_PAGES, true);
	} else {
		for (i = 0; i < RING_COMP_PAGES; i++) {
			set_page_dirty_lock(map->comp_pages[i]);
			put_page(map->comp_pages[i]);
		}
	}
	kfree(map);
}

/* The mapping is never split, so close() runs once per mmap(). */
static int ring_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct ring_vm_ops = {
	.close		= ring_vm_close,
	.may_split	= ring_vm_may_split,
};

static int ring_mmap_check(struct ring_file *rf, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != RING_SIZE)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (!rf->comp_addr || rf->map)
		return -EBUSY;
	return 0;
}

/*
 * Positive: FOLL_GET references on the completion buffer, kept for the life
 * of the mapping. mmap() holds mmap_lock, so the locked get_user_pages() is used.
 */
static int ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ring_file *rf = file->private_data;
	struct ring_mapping *map;
	long got;
	int ret, i;

	mutex_lock(&rf->lock);
	ret = ring_mmap_check(rf, vma);
	if (ret)
		goto out_unlock;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	got = get_user_pages(rf->comp_addr, RING_COMP_PAGES, FOLL_WRITE, map->comp_pages, NULL); /* expect: GUP001 */
	if (got != RING_COMP_PAGES) {
		for (i = 0; i < got; i++)
			put_page(map->comp_pages[i]);
		ret = got < 0 ? got : -EFAULT;
		goto out_free;
	}
	ret = remap_vmalloc_range(vma, rf->ring, 0);
	if (ret) {
		for (i = 0; i < RING_COMP_PAGES; i++)
			put_page(map->comp_pages[i]);
		goto out_free;
	}
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND;
	map->rf = rf;
	map->longterm = false;
	vma->vm_private_data = map;
	vma->vm_ops = &ring_vm_ops;
	rf->map = map;
	mutex_unlock(&rf->lock);
	return 0;

out_free:
	kfree(map);
out_unlock:
	mutex_unlock(&rf->lock);
	return ret;
}

/* Negative twin: a long-term pin kept for the life of the mapping. */
static int ring_lt_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ring_file *rf = file->private_data;
	struct ring_mapping *map;
	long pinned;
	int ret;

	mutex_lock(&rf->lock);
	ret = ring_mmap_check(rf, vma);
	if (ret)
		goto out_unlock;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	pinned = pin_user_pages(rf->comp_addr, RING_COMP_PAGES, FOLL_WRITE | FOLL_LONGTERM,
				map->comp_pages, NULL);
	if (pinned < 0) {
		ret = pinned;
		goto out_free;
	}
	if (pinned != RING_COMP_PAGES) {
		unpin_user_pages(map->comp_pages, pinned);
		ret = -EFAULT;
		goto out_free;
	}
	ret = remap_vmalloc_range(vma, rf->ring, 0);
	if (ret) {
		unpin_user_pages(map->comp_pages, RING_COMP_PAGES);
		goto out_free;
	}
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND;
	map->rf = rf;
	map->longterm = true;
	vma->vm_private_data = map;
	vma->vm_ops = &ring_vm_ops;
	rf->map = map;
	mutex_unlock(&rf->lock);
	return 0;

out_free:
	kfree(map);
out_unlock:
	mutex_unlock(&rf->lock);
	return ret;
}

/* The "device" posts a completion record into the pinned buffer. */
static long ring_complete(struct ring_file *rf, u32 __user *utag)
{
	struct ring_mapping *map;
	u32 tag, slot;
	u32 *va;

	if (get_user(tag, utag))
		return -EFAULT;
	mutex_lock(&rf->lock);
	map = rf->map;
	if (!map) {
		mutex_unlock(&rf->lock);
		return -ENXIO;
	}
	slot = map->comp_head++ % (RING_COMP_PAGES * PAGE_SIZE / sizeof(u32));
	va = kmap_local_page(map->comp_pages[slot / (PAGE_SIZE / sizeof(u32))]);
	va[slot % (PAGE_SIZE / sizeof(u32))] = tag;
	kunmap_local(va);
	mutex_unlock(&rf->lock);
	return 0;
}

static long ring_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ring_file *rf = file->private_data;
	u64 addr;

	switch (cmd) {
	case RING_IOC_SET_COMP:
		if (copy_from_user(&addr, (void __user *)arg, sizeof(addr)))
			return -EFAULT;
		if (!addr || !PAGE_ALIGNED(addr))
			return -EINVAL;
		mutex_lock(&rf->lock);
		rf->comp_addr = addr;
		mutex_unlock(&rf->lock);
		return 0;
	case RING_IOC_COMPLETE:
		return ring_complete(rf, (u32 __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int ring_open(struct inode *inode, struct file *file)
{
	struct ring_file *rf = kzalloc(sizeof(*rf), GFP_KERNEL);

	if (!rf)
		return -ENOMEM;
	rf->ring = vmalloc_user(RING_SIZE);
	if (!rf->ring) {
		kfree(rf);
		return -ENOMEM;
	}
	mutex_init(&rf->lock);
	file->private_data = rf;
	return 0;
}

static int ring_release(struct inode *inode, struct file *file)
{
	struct ring_file *rf = file->private_data;

	/* Mappings hold a file reference: no mapping is left at this point. */
	vfree(rf->ring);
	kfree(rf);
	return 0;
}

static const struct file_operations ring_fops = {
	.owner		= THIS_MODULE,
	.open		= ring_open,
	.release	= ring_release,
	.mmap		= ring_mmap,
	.unlocked_ioctl	= ring_ioctl,
	.llseek		= noop_llseek,
};

static const struct file_operations ring_lt_fops = {
	.owner		= THIS_MODULE,
	.open		= ring_open,
	.release	= ring_release,
	.mmap		= ring_lt_mmap,
	.unlocked_ioctl	= ring_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice ring_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ringmap",
	.fops	= &ring_fops,
};

static struct miscdevice ring_lt_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ringmap_lt",
	.fops	= &ring_lt_fops,
};

static int __init ring_init(void)
{
	int ret;

	ret = misc_register(&ring_misc);
	if (ret)
		return ret;
	ret = misc_register(&ring_lt_misc);
	if (ret)
		misc_deregister(&ring_misc);
	return ret;
}

static void __exit ring_exit(void)
{
	misc_deregister(&ring_lt_misc);
	misc_deregister(&ring_misc);
}

module_init(ring_init);
module_exit(ring_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Command ring with completion buffer (gupcheck GUP001 test case)");
