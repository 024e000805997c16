/*
 * GUP002 case "helper-pins-into-new-map", driver side. Both commands pin through one helper
 * that fills a freshly allocated map object (the helper itself keeps nothing: its caller
 * decides). MAPQ_IOC_ATTACH queues the map on the file, so the pages stay pinned after the
 * ioctl returns (FOLL_LONGTERM, right for the driver, wrong for a caller's stack buffer);
 * MAPQ_IOC_POKE_ONCE writes through the map and frees it before returning.
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

#include "mapq_uapi.h"

struct mapq_map {
	struct list_head node;
	struct page **pages;
	unsigned int nr;
};

struct mapq_file {
	struct mutex lock;
	struct list_head maps;
	u8 seq;
};

/* Pins the buffer's pages into `map`; 0 or -errno (nothing left pinned on failure). */
static int mapq_pin(struct mapq_map *map, u64 uaddr, u32 bytes)
{
	int got;

	map->nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
	map->pages = kcalloc(map->nr, sizeof(*map->pages), GFP_KERNEL);
	if (!map->pages)
		return -ENOMEM;
	got = pin_user_pages_fast(uaddr, map->nr, FOLL_WRITE | FOLL_LONGTERM, map->pages);
	if (got != map->nr) {
		if (got > 0)
			unpin_user_pages(map->pages, got);
		kfree(map->pages);
		return got < 0 ? got : -EFAULT;
	}
	return 0;
}

static void mapq_unpin(struct mapq_map *map)
{
	unpin_user_pages_dirty_lock(map->pages, map->nr, true);
	kfree(map->pages);
	kfree(map);
}

static void mapq_write(struct mapq_map *map, u8 value)
{
	unsigned int i;

	for (i = 0; i < map->nr; i++) {
		u8 *data = kmap_local_page(map->pages[i]);

		memset(data, value, PAGE_SIZE);
		kunmap_local(data);
	}
}

static int mapq_get_buf(struct mapq_buf *buf, const void __user *uarg)
{
	if (copy_from_user(buf, uarg, sizeof(*buf)))
		return -EFAULT;
	if (!buf->bytes || buf->bytes > MAPQ_MAX_BYTES || !PAGE_ALIGNED(buf->uaddr))
		return -EINVAL;
	return 0;
}

static long mapq_attach(struct mapq_file *mf, const void __user *uarg)
{
	struct mapq_buf buf;
	struct mapq_map *map;
	int err;

	err = mapq_get_buf(&buf, uarg);
	if (err)
		return err;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	err = mapq_pin(map, buf.uaddr, buf.bytes);
	if (err) {
		kfree(map);
		return err;
	}
	mutex_lock(&mf->lock);
	list_add_tail(&map->node, &mf->maps);
	mutex_unlock(&mf->lock);
	return 0;
}

static long mapq_poke_once(const void __user *uarg)
{
	struct mapq_buf buf;
	struct mapq_map *map;
	int err;

	err = mapq_get_buf(&buf, uarg);
	if (err)
		return err;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	err = mapq_pin(map, buf.uaddr, buf.bytes);
	if (err) {
		kfree(map);
		return err;
	}
	mapq_write(map, buf.value);
	mapq_unpin(map);
	return 0;
}

static void mapq_detach_all(struct mapq_file *mf)
{
	struct mapq_map *map, *next;

	list_for_each_entry_safe(map, next, &mf->maps, node) {
		list_del(&map->node);
		mapq_unpin(map);
	}
}

static long mapq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mapq_file *mf = file->private_data;
	const void __user *uarg = (const void __user *)arg;
	struct mapq_map *map;

	switch (cmd) {
	case MAPQ_IOC_ATTACH:
		return mapq_attach(mf, uarg);
	case MAPQ_IOC_POKE_ONCE:
		return mapq_poke_once(uarg);
	case MAPQ_IOC_DETACH_ALL:
		mutex_lock(&mf->lock);
		mapq_detach_all(mf);
		mutex_unlock(&mf->lock);
		return 0;
	case MAPQ_IOC_TICK:
		mutex_lock(&mf->lock);
		mf->seq++;
		list_for_each_entry(map, &mf->maps, node)
			mapq_write(map, mf->seq);
		mutex_unlock(&mf->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int mapq_open(struct inode *inode, struct file *file)
{
	struct mapq_file *mf = kzalloc(sizeof(*mf), GFP_KERNEL);

	if (!mf)
		return -ENOMEM;
	mutex_init(&mf->lock);
	INIT_LIST_HEAD(&mf->maps);
	file->private_data = mf;
	return 0;
}

static int mapq_release(struct inode *inode, struct file *file)
{
	struct mapq_file *mf = file->private_data;

	mapq_detach_all(mf);
	kfree(mf);
	return 0;
}

static const struct file_operations mapq_fops = {
	.owner		= THIS_MODULE,
	.open		= mapq_open,
	.release	= mapq_release,
	.unlocked_ioctl	= mapq_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice mapq_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mapq",
	.fops	= &mapq_fops,
};
module_misc_device(mapq_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP002 helper-pins-into-new-map");
