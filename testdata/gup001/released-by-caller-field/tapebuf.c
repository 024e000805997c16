/*
 * GUP001 case "released-by-caller-field": a tape-style character device does direct I/O on
 * the user buffer of read() and write(). A setup helper pins the buffer into a local array
 * and parks the array in the per-file transfer buffer (`tb->user_pages`); the syscall later
 * calls a teardown helper that unpins `tb->user_pages`. read() tears down before it returns
 * (a short-term FOLL_PIN, right); write() leaves the teardown to the next read or to close,
 * so its pages stay pinned after the syscall without FOLL_LONGTERM.
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
#include <linux/uaccess.h>

#define TB_MAX_PAGES		16

struct tape_buffer {
	struct mutex lock;
	struct page **user_pages;
	unsigned int nr_user_pages;
	u8 last_byte;
};

static int tb_map_user(struct tape_buffer *tb, unsigned long uaddr, size_t count, bool to_user)
{
	unsigned int nr = DIV_ROUND_UP(offset_in_page(uaddr) + count, PAGE_SIZE);
	struct page **pages;
	int got;

	if (!count || nr > TB_MAX_PAGES)
		return -EINVAL;
	pages = kcalloc(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = pin_user_pages_fast(uaddr, nr, to_user ? FOLL_WRITE : 0, pages); /* expect: GUP001 */
	if (got != nr) {
		if (got > 0)
			unpin_user_pages(pages, got);
		kfree(pages);
		return got < 0 ? got : -EFAULT;
	}
	tb->user_pages = pages;
	tb->nr_user_pages = nr;
	return 0;
}

static void tb_unmap_user(struct tape_buffer *tb, bool dirty)
{
	if (!tb->user_pages)
		return;
	unpin_user_pages_dirty_lock(tb->user_pages, tb->nr_user_pages, dirty);
	kfree(tb->user_pages);
	tb->user_pages = NULL;
	tb->nr_user_pages = 0;
}

/* The "device": fills the pinned buffer with a byte pattern, or remembers its last byte. */
static void tb_transfer(struct tape_buffer *tb, unsigned long uaddr, size_t count, bool to_user)
{
	size_t done = 0, offset = offset_in_page(uaddr);
	unsigned int i;

	for (i = 0; i < tb->nr_user_pages && done < count; i++) {
		size_t chunk = min_t(size_t, PAGE_SIZE - offset, count - done);
		u8 *data = kmap_local_page(tb->user_pages[i]);

		if (to_user)
			memset(data + offset, 0xa5, chunk);
		else
			tb->last_byte = data[offset + chunk - 1];
		kunmap_local(data);
		done += chunk;
		offset = 0;
	}
}

static ssize_t tb_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct tape_buffer *tb = file->private_data;
	unsigned long uaddr = (unsigned long)buf;
	int err;

	mutex_lock(&tb->lock);
	tb_unmap_user(tb, false);
	err = tb_map_user(tb, uaddr, count, true);
	if (!err)
		tb_transfer(tb, uaddr, count, true);
	tb_unmap_user(tb, true);
	mutex_unlock(&tb->lock);
	return err ? err : count;
}

static ssize_t tb_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	struct tape_buffer *tb = file->private_data;
	unsigned long uaddr = (unsigned long)buf;
	int err;

	mutex_lock(&tb->lock);
	tb_unmap_user(tb, false);
	err = tb_map_user(tb, uaddr, count, false);
	if (!err)
		tb_transfer(tb, uaddr, count, false);
	/* the pages stay pinned until the next read or close */
	mutex_unlock(&tb->lock);
	return err ? err : count;
}

static int tb_open(struct inode *inode, struct file *file)
{
	struct tape_buffer *tb = kzalloc(sizeof(*tb), GFP_KERNEL);

	if (!tb)
		return -ENOMEM;
	mutex_init(&tb->lock);
	file->private_data = tb;
	return 0;
}

static int tb_release(struct inode *inode, struct file *file)
{
	struct tape_buffer *tb = file->private_data;

	tb_unmap_user(tb, false);
	kfree(tb);
	return 0;
}

static const struct file_operations tb_fops = {
	.owner		= THIS_MODULE,
	.open		= tb_open,
	.release	= tb_release,
	.read		= tb_read,
	.write		= tb_write,
	.llseek		= noop_llseek,
};

static struct miscdevice tb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "tapebuf",
	.fops	= &tb_fops,
};
module_misc_device(tb_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: GUP001 released-by-caller-field");
