/*
 * README: GUP005 case "converted-user-pointer". A blob device whose requests
 * carry user addresses as __u64 fields, as DRM-style ioctls do. The handlers
 * check one range with access_ok(u64_to_user_ptr(args->data_ptr), size) and
 * then use __copy_*_user on the address spelt again (u64_to_user_ptr, a cast
 * through uintptr_t, or a local rebuilt from the same field): that is the
 * checked address. Flagged: an unchecked accessor on the *other* address
 * field of the request, directly or through a local.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define BLOB_BYTES	256
#define BLOB_META_BYTES	32

struct blob_io {
	__u64 data_ptr;		/* user buffer of size bytes */
	__u64 meta_ptr;		/* user buffer of meta_size bytes */
	__u32 size;
	__u32 meta_size;
};

#define BLOB_IOC_MAGIC		'B'
#define BLOB_IOC_PWRITE		_IOW(BLOB_IOC_MAGIC, 1, struct blob_io)
#define BLOB_IOC_PREAD		_IOW(BLOB_IOC_MAGIC, 2, struct blob_io)
#define BLOB_IOC_PREAD_CAST	_IOW(BLOB_IOC_MAGIC, 3, struct blob_io)
#define BLOB_IOC_PREAD_META	_IOW(BLOB_IOC_MAGIC, 4, struct blob_io)
#define BLOB_IOC_PREAD_BOTH	_IOW(BLOB_IOC_MAGIC, 5, struct blob_io)

struct blob_dev {
	struct mutex lock;
	u8 data[BLOB_BYTES];
	u8 meta[BLOB_META_BYTES];
};

static struct blob_dev blob;

/* Negative: a local rebuilt from the checked field is the checked address. */
static long blob_pwrite(struct blob_dev *b, struct blob_io *args)
{
	const char __user *user_data;

	if (args->size > sizeof(b->data))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(args->data_ptr), args->size))
		return -EFAULT;
	user_data = u64_to_user_ptr(args->data_ptr);
	if (__copy_from_user(b->data, user_data, args->size))
		return -EFAULT;
	return 0;
}

/* Negative: the checked address, converted again at the copy. */
static long blob_pread(struct blob_dev *b, struct blob_io *args)
{
	if (args->size > sizeof(b->data))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(args->data_ptr), args->size))
		return -EFAULT;
	if (__copy_to_user(u64_to_user_ptr(args->data_ptr), b->data, args->size))
		return -EFAULT;
	return 0;
}

/* Negative: checked and used through casts. */
static long blob_pread_cast(struct blob_dev *b, struct blob_io *args)
{
	if (args->size > sizeof(b->data))
		return -EINVAL;
	if (!access_ok((void __user *)(uintptr_t)args->data_ptr, args->size))
		return -EFAULT;
	if (__copy_to_user((void __user *)(uintptr_t)args->data_ptr, b->data, args->size))
		return -EFAULT;
	return 0;
}

/* Positive: the data range is checked, the metadata address is not. */
static long blob_pread_meta(struct blob_dev *b, struct blob_io *args)
{
	if (args->size > sizeof(b->data) || args->meta_size > sizeof(b->meta))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(args->data_ptr), args->size))
		return -EFAULT;
	if (__copy_to_user(u64_to_user_ptr(args->meta_ptr), b->meta, args->meta_size)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

/* Positive: a local rebuilt from the unchecked field. */
static long blob_pread_both(struct blob_dev *b, struct blob_io *args)
{
	void __user *user_data, *user_meta;

	if (args->size > sizeof(b->data) || args->meta_size > sizeof(b->meta))
		return -EINVAL;
	user_data = u64_to_user_ptr(args->data_ptr);
	user_meta = u64_to_user_ptr(args->meta_ptr);
	if (!access_ok(user_data, args->size))
		return -EFAULT;
	if (__copy_to_user(user_data, b->data, args->size))
		return -EFAULT;
	if (__copy_to_user(user_meta, b->meta, args->meta_size)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

static long blob_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct blob_io args;
	long ret;

	if (copy_from_user(&args, (void __user *)arg, sizeof(args)))
		return -EFAULT;
	mutex_lock(&blob.lock);
	switch (cmd) {
	case BLOB_IOC_PWRITE:
		ret = blob_pwrite(&blob, &args);
		break;
	case BLOB_IOC_PREAD:
		ret = blob_pread(&blob, &args);
		break;
	case BLOB_IOC_PREAD_CAST:
		ret = blob_pread_cast(&blob, &args);
		break;
	case BLOB_IOC_PREAD_META:
		ret = blob_pread_meta(&blob, &args);
		break;
	case BLOB_IOC_PREAD_BOTH:
		ret = blob_pread_both(&blob, &args);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&blob.lock);
	return ret;
}

static const struct file_operations blob_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= blob_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice blob_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "blobio",
	.fops	= &blob_fops,
};

static int __init blob_init(void)
{
	mutex_init(&blob.lock);
	memset(blob.meta, 0x5a, sizeof(blob.meta));
	return misc_register(&blob_misc);
}

static void __exit blob_exit(void)
{
	misc_deregister(&blob_misc);
}

module_init(blob_init);
module_exit(blob_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Blob store with u64 user addresses (gupcheck GUP005 test case)");
