/*
 * README: GUP005 case "double-fetch-in-callee". A command is fetched twice
 * from the same user address: the header alone (its length checked), then
 * the whole command into an allocation sized from the first length. The
 * second copy is handed to a helper; when the helper sizes an allocation or a
 * copy with the length field of that second copy, user space can have changed
 * it in between, and the second fetch is flagged. Look-alikes: the caller
 * overwrites the field from the first copy before the hand-over, the helper
 * compares it with the first copy, or the helper uses no length at all.
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

#define CMD_MAX_BODY	512

struct cmd_hdr {
	__u32 op;
	__u32 len;		/* bytes in body[] */
	__u8 body[];
};

struct cmd_fetch {
	__u64 buf;
	__u32 size;
	__u32 len;		/* out: bytes stashed */
};

#define CMD_IOC_MAGIC		'c'
#define CMD_IOC_STASH		_IOW(CMD_IOC_MAGIC, 1, struct cmd_hdr)
#define CMD_IOC_STASH_FIXED	_IOW(CMD_IOC_MAGIC, 2, struct cmd_hdr)
#define CMD_IOC_STASH_CHECKED	_IOW(CMD_IOC_MAGIC, 3, struct cmd_hdr)
#define CMD_IOC_NOTE		_IOW(CMD_IOC_MAGIC, 4, struct cmd_hdr)
#define CMD_IOC_FETCH		_IOWR(CMD_IOC_MAGIC, 5, struct cmd_fetch)

struct cmd_dev {
	struct mutex lock;
	u8 *stash;
	u32 stash_len;
	u32 last_op;
};

static struct cmd_dev cmdd;

/* Keeps a copy of the command body: trusts cmd->len. */
static int cmd_keep(struct cmd_dev *d, const struct cmd_hdr *cmd)
{
	u8 *copy = kmalloc(cmd->len, GFP_KERNEL);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, cmd->body, cmd->len);
	kfree(d->stash);
	d->stash = copy;
	d->stash_len = cmd->len;
	return 0;
}

/* The same, after comparing the second copy's length with the first's. */
static int cmd_keep_checked(struct cmd_dev *d, const struct cmd_hdr *cmd, const struct cmd_hdr *hdr)
{
	if (cmd->len != hdr->len)
		return -EINVAL;
	return cmd_keep(d, cmd);
}

static int cmd_note(struct cmd_dev *d, const struct cmd_hdr *cmd)
{
	d->last_op = cmd->op;
	return 0;
}

/* Fetches and checks the header, then allocates room for the whole command. */
static struct cmd_hdr *cmd_alloc(struct cmd_hdr __user *ucmd, struct cmd_hdr *hdr)
{
	struct cmd_hdr *cmd;

	if (copy_from_user(hdr, ucmd, sizeof(*hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr->len > CMD_MAX_BODY)
		return ERR_PTR(-EINVAL);
	cmd = kmalloc(sizeof(*hdr) + hdr->len, GFP_KERNEL);
	return cmd ? cmd : ERR_PTR(-ENOMEM);
}

/* Positive: cmd_keep() sizes its copy with the second fetch's length. */
static long cmd_stash(struct cmd_dev *d, struct cmd_hdr __user *ucmd)
{
	struct cmd_hdr hdr;
	struct cmd_hdr *cmd;
	long ret;

	cmd = cmd_alloc(ucmd, &hdr);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (copy_from_user(cmd, ucmd, sizeof(hdr) + hdr.len)) { /* expect: GUP005 */
		kfree(cmd);
		return -EFAULT;
	}
	ret = cmd_keep(d, cmd);
	kfree(cmd);
	return ret;
}

/* Negative: the length is put back from the first copy before the hand-over. */
static long cmd_stash_fixed(struct cmd_dev *d, struct cmd_hdr __user *ucmd)
{
	struct cmd_hdr hdr;
	struct cmd_hdr *cmd;
	long ret;

	cmd = cmd_alloc(ucmd, &hdr);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (copy_from_user(cmd, ucmd, sizeof(hdr) + hdr.len)) {
		kfree(cmd);
		return -EFAULT;
	}
	cmd->len = hdr.len;
	ret = cmd_keep(d, cmd);
	kfree(cmd);
	return ret;
}

/* Negative: the helper compares the two lengths first. */
static long cmd_stash_checked(struct cmd_dev *d, struct cmd_hdr __user *ucmd)
{
	struct cmd_hdr hdr;
	struct cmd_hdr *cmd;
	long ret;

	cmd = cmd_alloc(ucmd, &hdr);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (copy_from_user(cmd, ucmd, sizeof(hdr) + hdr.len)) {
		kfree(cmd);
		return -EFAULT;
	}
	ret = cmd_keep_checked(d, cmd, &hdr);
	kfree(cmd);
	return ret;
}

/* Negative: the helper reads no length from the second copy. */
static long cmd_note_op(struct cmd_dev *d, struct cmd_hdr __user *ucmd)
{
	struct cmd_hdr hdr;
	struct cmd_hdr *cmd;
	long ret;

	cmd = cmd_alloc(ucmd, &hdr);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (copy_from_user(cmd, ucmd, sizeof(hdr) + hdr.len)) {
		kfree(cmd);
		return -EFAULT;
	}
	ret = cmd_note(d, cmd);
	kfree(cmd);
	return ret;
}

/* Hands the stash back: at most size bytes; len says how many the stash holds. */
static long cmd_fetch(struct cmd_dev *d, struct cmd_fetch __user *ufetch)
{
	struct cmd_fetch f;

	if (copy_from_user(&f, ufetch, sizeof(f)))
		return -EFAULT;
	f.len = d->stash_len;
	if (f.size > d->stash_len)
		f.size = d->stash_len;
	if (copy_to_user(u64_to_user_ptr(f.buf), d->stash, f.size))
		return -EFAULT;
	if (copy_to_user(ufetch, &f, sizeof(f)))
		return -EFAULT;
	return 0;
}

static long cmd_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&cmdd.lock);
	switch (cmd) {
	case CMD_IOC_STASH:
		ret = cmd_stash(&cmdd, uarg);
		break;
	case CMD_IOC_STASH_FIXED:
		ret = cmd_stash_fixed(&cmdd, uarg);
		break;
	case CMD_IOC_STASH_CHECKED:
		ret = cmd_stash_checked(&cmdd, uarg);
		break;
	case CMD_IOC_NOTE:
		ret = cmd_note_op(&cmdd, uarg);
		break;
	case CMD_IOC_FETCH:
		ret = cmd_fetch(&cmdd, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&cmdd.lock);
	return ret;
}

static const struct file_operations cmd_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= cmd_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice cmd_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cmdstash",
	.fops	= &cmd_fops,
};

static int __init cmd_init(void)
{
	mutex_init(&cmdd.lock);
	return misc_register(&cmd_misc);
}

static void __exit cmd_exit(void)
{
	misc_deregister(&cmd_misc);
	kfree(cmdd.stash);
}

module_init(cmd_init);
module_exit(cmd_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Command stash (gupcheck GUP005 test case)");
