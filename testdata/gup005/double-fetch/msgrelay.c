/*
 * README: GUP005 case "double-fetch". A message header is fetched from user
 * space to learn its length, then the whole message is fetched again from the
 * same address; if the length in the second copy is trusted, user space can
 * change it in between. The second fetch is flagged. Look-alikes re-check or
 * overwrite the length, or fetch only the payload from a different address.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define RELAY_MAX_PAYLOAD	4096
#define RELAY_MAX_ENTRIES	64

struct relay_msg {
	__u32 type;
	__u32 len;		/* bytes in data[] */
	__u8 data[];
};

struct relay_entry {
	__u32 key;
	__u32 value;
};

struct relay_table {
	__u32 op;
	__u32 nr_entries;
	struct relay_entry entries[];
};

#define RELAY_IOC_MAGIC		'r'
#define RELAY_IOC_SEND		_IOW(RELAY_IOC_MAGIC, 1, struct relay_msg)
#define RELAY_IOC_SEND_CHECKED	_IOW(RELAY_IOC_MAGIC, 2, struct relay_msg)
#define RELAY_IOC_ECHO		_IOWR(RELAY_IOC_MAGIC, 3, struct relay_msg)
#define RELAY_IOC_ECHO_FIXED	_IOWR(RELAY_IOC_MAGIC, 4, struct relay_msg)
#define RELAY_IOC_SEND_PAYLOAD	_IOW(RELAY_IOC_MAGIC, 5, struct relay_msg)
#define RELAY_IOC_LOAD_TABLE	_IOW(RELAY_IOC_MAGIC, 6, struct relay_table)
#define RELAY_IOC_TABLE_OP	_IOW(RELAY_IOC_MAGIC, 7, struct relay_table)
#define RELAY_IOC_STASH		_IOW(RELAY_IOC_MAGIC, 8, struct relay_msg)

struct relay_dev {
	struct mutex lock;
	u32 checksum;
	u32 table[RELAY_MAX_ENTRIES];
	u8 *stash;
	size_t stash_len;
};

static struct relay_dev relay;

/* Fetches the header and allocates room for the whole message. */
static struct relay_msg *relay_alloc_msg(struct relay_msg __user *umsg, struct relay_msg *hdr)
{
	if (copy_from_user(hdr, umsg, sizeof(*hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr->len > RELAY_MAX_PAYLOAD)
		return ERR_PTR(-EINVAL);
	return kmalloc(sizeof(*hdr) + hdr->len, GFP_KERNEL) ?: ERR_PTR(-ENOMEM);
}

static u32 relay_sum(const u8 *data, u32 len)
{
	u32 sum = 0, i;

	for (i = 0; i < len; i++)
		sum += data[i];
	return sum;
}

/* Positive: the loop bound comes from the second copy. */
static long relay_send(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;
	size_t total;
	u32 i, sum = 0;

	if (copy_from_user(&hdr, umsg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.len > RELAY_MAX_PAYLOAD)
		return -EINVAL;
	total = sizeof(hdr) + hdr.len;
	msg = kmalloc(total, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	if (copy_from_user(msg, umsg, total)) { /* expect: GUP005 */
		kfree(msg);
		return -EFAULT;
	}
	for (i = 0; i < msg->len; i++)
		sum += msg->data[i];
	relay.checksum = sum;
	kfree(msg);
	return 0;
}

/* Negative: the second copy's length is compared with the first. */
static long relay_send_checked(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;
	size_t total;
	long ret = 0;

	if (copy_from_user(&hdr, umsg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.len > RELAY_MAX_PAYLOAD)
		return -EINVAL;
	total = sizeof(hdr) + hdr.len;
	msg = kmalloc(total, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	if (copy_from_user(msg, umsg, total)) {
		ret = -EFAULT;
		goto out;
	}
	if (msg->len != hdr.len) {
		ret = -EINVAL;
		goto out;
	}
	relay.checksum = relay_sum(msg->data, msg->len);
out:
	kfree(msg);
	return ret;
}

/* Positive: the echoed length comes from the second copy (first fetch in the helper). */
static long relay_echo(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;
	long ret = 0;

	msg = relay_alloc_msg(umsg, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	if (copy_from_user(msg, umsg, sizeof(hdr) + hdr.len)) { /* expect: GUP005 */
		ret = -EFAULT;
		goto out;
	}
	if (copy_to_user(&umsg->data, msg->data, msg->len))
		ret = -EFAULT;
out:
	kfree(msg);
	return ret;
}

/* Negative: the length field is overwritten with the validated one. */
static long relay_echo_fixed(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;
	long ret = 0;

	msg = relay_alloc_msg(umsg, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	if (copy_from_user(msg, umsg, sizeof(hdr) + hdr.len)) {
		ret = -EFAULT;
		goto out;
	}
	msg->len = hdr.len;
	if (copy_to_user(&umsg->data, msg->data, msg->len))
		ret = -EFAULT;
out:
	kfree(msg);
	return ret;
}

/* Negative: only the payload is fetched the second time, from another address. */
static long relay_send_payload(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;

	msg = relay_alloc_msg(umsg, &hdr);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	msg->type = hdr.type;
	msg->len = hdr.len;
	if (copy_from_user(msg->data, &umsg->data, hdr.len)) {
		kfree(msg);
		return -EFAULT;
	}
	relay.checksum = relay_sum(msg->data, msg->len);
	kfree(msg);
	return 0;
}

/* Positive: the stash is sized from the second copy's length. */
static long relay_stash(struct relay_msg __user *umsg)
{
	struct relay_msg hdr;
	struct relay_msg *msg;
	u8 *stash;

	if (copy_from_user(&hdr, umsg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.len > RELAY_MAX_PAYLOAD)
		return -EINVAL;
	msg = kzalloc(sizeof(hdr) + hdr.len, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	if (copy_from_user(msg, umsg, sizeof(hdr) + hdr.len)) { /* expect: GUP005 */
		kfree(msg);
		return -EFAULT;
	}
	stash = kmalloc(msg->len, GFP_KERNEL);
	if (!stash) {
		kfree(msg);
		return -ENOMEM;
	}
	memcpy(stash, msg->data, hdr.len);
	kfree(relay.stash);
	relay.stash = stash;
	relay.stash_len = hdr.len;
	kfree(msg);
	return 0;
}

/* Positive: the entry count is fetched alone, then again with the table. */
static long relay_load_table(struct relay_table __user *utab)
{
	struct relay_table *tab;
	u32 nr, i;

	if (get_user(nr, &utab->nr_entries))
		return -EFAULT;
	if (nr > RELAY_MAX_ENTRIES)
		return -EINVAL;
	tab = kmalloc(struct_size(tab, entries, nr), GFP_KERNEL);
	if (!tab)
		return -ENOMEM;
	if (copy_from_user(tab, utab, struct_size(tab, entries, nr))) { /* expect: GUP005 */
		kfree(tab);
		return -EFAULT;
	}
	for (i = 0; i < tab->nr_entries; i++)
		relay.table[tab->entries[i].key % RELAY_MAX_ENTRIES] = tab->entries[i].value;
	kfree(tab);
	return 0;
}

/* Negative: two single fetches of two different fields. */
static long relay_table_op(struct relay_table __user *utab)
{
	u32 op, nr;

	if (get_user(op, &utab->op))
		return -EFAULT;
	if (get_user(nr, &utab->nr_entries))
		return -EFAULT;
	if (nr > RELAY_MAX_ENTRIES)
		return -EINVAL;
	if (op == 0)
		memset(relay.table, 0, nr * sizeof(relay.table[0]));
	return 0;
}

static long relay_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&relay.lock);
	switch (cmd) {
	case RELAY_IOC_SEND:
		ret = relay_send(uarg);
		break;
	case RELAY_IOC_SEND_CHECKED:
		ret = relay_send_checked(uarg);
		break;
	case RELAY_IOC_ECHO:
		ret = relay_echo(uarg);
		break;
	case RELAY_IOC_ECHO_FIXED:
		ret = relay_echo_fixed(uarg);
		break;
	case RELAY_IOC_SEND_PAYLOAD:
		ret = relay_send_payload(uarg);
		break;
	case RELAY_IOC_STASH:
		ret = relay_stash(uarg);
		break;
	case RELAY_IOC_LOAD_TABLE:
		ret = relay_load_table(uarg);
		break;
	case RELAY_IOC_TABLE_OP:
		ret = relay_table_op(uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&relay.lock);
	return ret;
}

static const struct file_operations relay_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= relay_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice relay_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "msgrelay",
	.fops	= &relay_fops,
};

static int __init relay_init(void)
{
	mutex_init(&relay.lock);
	return misc_register(&relay_misc);
}

static void __exit relay_exit(void)
{
	misc_deregister(&relay_misc);
	kfree(relay.stash);
}

module_init(relay_init);
module_exit(relay_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Message relay (gupcheck GUP005 test case)");
