/*
 * GUP001 case "chunked-pin-mapped-by-frame": a mapping table for a device that addresses host
 * memory by page frame number. CM_IOC_MAP pins the caller's buffer a few pages at a time and
 * records the frame number of every page in a per-file list of mappings; the pages are found
 * again with pfn_to_page() when the file is closed or CM_IOC_UNMAP is called. A chunk that comes
 * back short undoes the whole mapping: its own pages at once, the chunks already recorded
 * through the list. CM_IOC_MAP pins with FOLL_PIN | FOLL_LONGTERM, as a registration that
 * outlives the ioctl must; CM_IOC_MAP_GET takes FOLL_GET references for the same registration.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>

#define CM_CHUNK		4	/* pages pinned per call */
#define CM_MAX_PAGES		64

struct cm_region {
	__u64 addr;		/* page aligned */
	__u32 nr_pages;
	__u32 pad;
};

struct cm_poke {
	__u32 index;		/* which mapped page */
	__u32 value;		/* written into its first byte by the "device" */
};

#define CM_IOC_MAP		_IOW('k', 1, struct cm_region)
#define CM_IOC_MAP_GET		_IOW('k', 2, struct cm_region)
#define CM_IOC_UNMAP		_IO('k', 3)
#define CM_IOC_POKE		_IOW('k', 4, struct cm_poke)

struct cm_mapping {
	struct list_head link;
	unsigned long pfn;
};

struct cm_file {
	struct mutex lock;
	struct list_head maps;		/* struct cm_mapping, in buffer order */
	unsigned int nr_maps;
	bool longterm;			/* how the mapped pages are held */
};

/* Remembers one mapped page by its frame number. */
static int cm_record_frame(struct cm_file *cf, unsigned long pfn)
{
	struct cm_mapping *entry;

	entry = kmalloc(sizeof(*entry), GFP_KERNEL);
	if (!entry)
		return -ENOMEM;
	entry->pfn = pfn;
	list_add_tail(&entry->link, &cf->maps);
	cf->nr_maps++;
	return 0;
}

/* Drops every recorded mapping and the page behind it. */
static void cm_drop_frames(struct cm_file *cf)
{
	struct cm_mapping *entry, *next;

	list_for_each_entry_safe(entry, next, &cf->maps, link) {
		struct page *page = pfn_to_page(entry->pfn);

		if (cf->longterm)
			unpin_user_pages_dirty_lock(&page, 1, true);
		else
			put_page(page);
		list_del(&entry->link);
		kfree(entry);
	}
	cf->nr_maps = 0;
}

static void cm_release_chunk(struct page **pages, unsigned int nr, bool longterm)
{
	unsigned int i;

	if (longterm) {
		unpin_user_pages(pages, nr);
		return;
	}
	for (i = 0; i < nr; i++)
		put_page(pages[i]);
}

static long cm_map(struct cm_file *cf, const void __user *uarg, bool longterm)
{
	struct page *chunk_pages[CM_CHUNK];
	unsigned long frames[CM_CHUNK];
	struct cm_region region;
	unsigned long uaddr;
	unsigned int left, nchunks = 0;
	long ret = 0;
	int got, n, i;

	if (copy_from_user(&region, uarg, sizeof(region)))
		return -EFAULT;
	if (!region.nr_pages || region.nr_pages > CM_MAX_PAGES || !PAGE_ALIGNED(region.addr))
		return -EINVAL;
	if (!list_empty(&cf->maps))
		return -EBUSY;
	cf->longterm = longterm;
	uaddr = region.addr;
	left = region.nr_pages;

	mmap_read_lock(current->mm);
	while (left) {
		n = min_t(unsigned int, left, CM_CHUNK);
		if (longterm)
			got = pin_user_pages(uaddr, n, FOLL_WRITE | FOLL_LONGTERM, chunk_pages, NULL);
		else
			got = get_user_pages(uaddr, n, FOLL_WRITE, chunk_pages, NULL); /* expect: GUP001 */
		if (got != n) {
			if (got < 0) {
				ret = got;
			} else {
				cm_release_chunk(chunk_pages, got, longterm);
				ret = -EFAULT;
			}
			goto out;
		}
		nchunks++;
		for (i = 0; i < got; i++)
			frames[i] = page_to_pfn(chunk_pages[i]);
		for (i = 0; i < got; i++) {
			ret = cm_record_frame(cf, frames[i]);
			if (ret) {
				/* the pages not recorded yet go back now, the others below */
				cm_release_chunk(chunk_pages + i, got - i, longterm);
				goto out;
			}
		}
		uaddr += (unsigned long)got << PAGE_SHIFT;
		left -= got;
	}
out:
	mmap_read_unlock(current->mm);
	if (ret) {
		if (nchunks)
			cm_drop_frames(cf);
	}
	return ret;
}

/* What the device does with a mapping: write a byte at the start of one mapped page. */
static long cm_poke(struct cm_file *cf, const void __user *uarg)
{
	struct cm_mapping *entry;
	struct cm_poke poke;
	unsigned int i = 0;
	u8 *data;

	if (copy_from_user(&poke, uarg, sizeof(poke)))
		return -EFAULT;
	list_for_each_entry(entry, &cf->maps, link) {
		if (i++ != poke.index)
			continue;
		data = kmap_local_page(pfn_to_page(entry->pfn));
		data[0] = (u8)poke.value;
		kunmap_local(data);
		return 0;
	}
	return -ENXIO;
}

static long cm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cm_file *cf = file->private_data;
	const void __user *uarg = (const void __user *)arg;
	long ret;

	mutex_lock(&cf->lock);
	switch (cmd) {
	case CM_IOC_MAP:
		ret = cm_map(cf, uarg, true);
		break;
	case CM_IOC_MAP_GET:
		ret = cm_map(cf, uarg, false);
		break;
	case CM_IOC_UNMAP:
		cm_drop_frames(cf);
		ret = 0;
		break;
	case CM_IOC_POKE:
		ret = cm_poke(cf, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&cf->lock);
	return ret;
}

static int cm_open(struct inode *inode, struct file *file)
{
	struct cm_file *cf = kzalloc(sizeof(*cf), GFP_KERNEL);

	if (!cf)
		return -ENOMEM;
	mutex_init(&cf->lock);
	INIT_LIST_HEAD(&cf->maps);
	file->private_data = cf;
	return 0;
}

static int cm_release(struct inode *inode, struct file *file)
{
	struct cm_file *cf = file->private_data;

	cm_drop_frames(cf);
	kfree(cf);
	return 0;
}

static const struct file_operations cm_fops = {
	.owner		= THIS_MODULE,
	.open		= cm_open,
	.release	= cm_release,
	.unlocked_ioctl	= cm_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice cm_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "chunkmap",
	.fops	= &cm_fops,
};
module_misc_device(cm_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 chunked-pin-mapped-by-frame");
