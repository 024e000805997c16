"""Entry points: the ops structures whose function-pointer fields the kernel calls, which syscall (or
kernel event) calls each field, and which parameters of an entry user space controls."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What calls an entry point: a system call made by user space, or a kernel event."""

    IOCTL = "ioctl"
    COMPAT_IOCTL = "compat_ioctl"
    READ = "read"
    WRITE = "write"
    MMAP = "mmap"
    OPEN = "open"
    RELEASE = "release"
    POLL = "poll"
    LLSEEK = "llseek"
    FLUSH = "flush"
    FSYNC = "fsync"
    FAULT = "fault"
    PAGE_MKWRITE = "page_mkwrite"
    VM_OPEN = "vm_open"
    VM_CLOSE = "vm_close"
    VM_ACCESS = "vm_access"
    MODULE_INIT = "module_init"
    MODULE_EXIT = "module_exit"
    # subsystem handlers user space reaches through a system call whose argument the subsystem
    # copies in first: the handler's parameters are kernel memory, not user pointers
    V4L2_IOCTL = "v4l2 ioctl"
    DRM_IOCTL = "drm ioctl"
    RDMA_VERB = "rdma verb"  # ib_device_ops, called from the uverbs ioctl/write path
    NETDEV_IOCTL = "netdev ioctl"
    SENDMSG = "sendmsg"
    RECVMSG = "recvmsg"
    TTY_WRITE = "tty write"  # the line discipline hands the driver a kernel buffer
    # kernel contexts that are not a system call
    WORK = "work item"
    NOTIFIER = "notifier"
    MMU_INVALIDATE = "mmu notifier"  # the CPU page tables of a mirrored range change


# Ops structures recorded by the front end even when their initialiser names no function (a
# miscdevice's `.fops = &my_fops`); any other global is recorded when its initialiser names functions.
OPS_STRUCTS = frozenset(
    {
        "file_operations", "vm_operations_struct", "miscdevice", "proc_ops",
        "platform_driver", "pci_driver", "mmu_interval_notifier_ops", "mmu_notifier_ops",
        "v4l2_file_operations", "drm_driver", "video_device",
    }
)  # fmt: skip

# The ib_device_ops fields user space calls through uverbs (its ioctl and write commands)
_RDMA_VERBS = (
    "reg_user_mr", "reg_user_mr_dmabuf", "rereg_user_mr", "dereg_mr", "alloc_mr", "advise_mr",
    "alloc_mw", "dealloc_mw", "alloc_pd", "dealloc_pd", "alloc_ucontext", "dealloc_ucontext",
    "create_qp", "modify_qp", "query_qp", "destroy_qp", "create_cq", "modify_cq", "resize_cq",
    "destroy_cq", "poll_cq", "req_notify_cq", "create_srq", "modify_srq", "query_srq",
    "destroy_srq", "post_send", "post_recv", "post_srq_recv", "create_ah", "destroy_ah",
    "create_wq", "modify_wq", "destroy_wq", "attach_mcast", "detach_mcast", "query_device",
    "query_port", "query_gid", "query_pkey",
)  # fmt: skip

# Which role each ops field has.
ENTRY_ROLES: dict[str, dict[str, Role]] = {
    "file_operations": {
        "unlocked_ioctl": Role.IOCTL,
        "compat_ioctl": Role.COMPAT_IOCTL,
        "read": Role.READ,
        "write": Role.WRITE,
        "mmap": Role.MMAP,
        "open": Role.OPEN,
        "release": Role.RELEASE,
        "poll": Role.POLL,
        "llseek": Role.LLSEEK,
        "flush": Role.FLUSH,
        "fsync": Role.FSYNC,
        "read_iter": Role.READ,
        "write_iter": Role.WRITE,
    },
    "proc_ops": {
        "proc_ioctl": Role.IOCTL,
        "proc_compat_ioctl": Role.COMPAT_IOCTL,
        "proc_read": Role.READ,
        "proc_write": Role.WRITE,
        "proc_mmap": Role.MMAP,
        "proc_open": Role.OPEN,
        "proc_release": Role.RELEASE,
    },
    "vm_operations_struct": {
        "fault": Role.FAULT,
        "huge_fault": Role.FAULT,
        "page_mkwrite": Role.PAGE_MKWRITE,
        "open": Role.VM_OPEN,
        "close": Role.VM_CLOSE,
        "access": Role.VM_ACCESS,
    },
    "v4l2_file_operations": {
        "unlocked_ioctl": Role.IOCTL,
        "compat_ioctl32": Role.COMPAT_IOCTL,
        "read": Role.READ,
        "write": Role.WRITE,
        "mmap": Role.MMAP,
        "open": Role.OPEN,
        "release": Role.RELEASE,
        "poll": Role.POLL,
    },
    "drm_driver": {
        "gem_prime_mmap": Role.MMAP,
        "dumb_create": Role.DRM_IOCTL,
        "dumb_map_offset": Role.DRM_IOCTL,
        "open": Role.OPEN,
        "postclose": Role.RELEASE,
    },
    "drm_ioctl_desc": {"func": Role.DRM_IOCTL},  # DRM_IOCTL_DEF_DRV(NAME, func, flags)
    "drm_gem_object_funcs": {"mmap": Role.MMAP},
    "vfio_iommu_driver_ops": {
        "ioctl": Role.IOCTL,  # VFIO_IOMMU_MAP_DMA and friends: (data, cmd, arg) like a file's
        "open": Role.OPEN,
        "release": Role.RELEASE,
    },
    "vfio_device_ops": {
        "ioctl": Role.IOCTL,
        "read": Role.READ,
        "write": Role.WRITE,
        "mmap": Role.MMAP,
        "open_device": Role.OPEN,
        "close_device": Role.RELEASE,
    },
    "ib_device_ops": {name: Role.RDMA_VERB for name in _RDMA_VERBS} | {"mmap": Role.MMAP},
    "proto_ops": {
        "ioctl": Role.IOCTL,  # (sock, cmd, arg) like a file's
        "compat_ioctl": Role.COMPAT_IOCTL,
        "sendmsg": Role.SENDMSG,
        "recvmsg": Role.RECVMSG,
        "release": Role.RELEASE,
        "poll": Role.POLL,
    },
    "tty_operations": {
        "ioctl": Role.IOCTL,  # (tty, cmd, arg) like a file's
        "compat_ioctl": Role.COMPAT_IOCTL,
        "write": Role.TTY_WRITE,
        "open": Role.OPEN,
        "close": Role.RELEASE,
    },
    "net_device_ops": {
        "ndo_eth_ioctl": Role.NETDEV_IOCTL,
        "ndo_siocdevprivate": Role.NETDEV_IOCTL,
        "ndo_do_ioctl": Role.NETDEV_IOCTL,
    },
    "notifier_block": {"notifier_call": Role.NOTIFIER},
    "mmu_notifier_ops": {
        "invalidate_range_start": Role.MMU_INVALIDATE,
        "invalidate_range": Role.MMU_INVALIDATE,
        "release": Role.MMU_INVALIDATE,
    },
    "mmu_interval_notifier_ops": {"invalidate": Role.MMU_INVALIDATE},
}

# Ops structures whose every function field is called for one system call: each `vidioc_*` of
# v4l2_ioctl_ops is a VIDIOC_* command, after video_usercopy() copied its argument in.
ALL_FIELDS_ROLES: dict[str, Role] = {"v4l2_ioctl_ops": Role.V4L2_IOCTL}

# Functions stored into these fields by code (`INIT_WORK(&w, fn)` stores `w.func = fn`) run later in
# a context of their own.
STORED_CALLBACK_ROLES: dict[str, dict[str, Role]] = {
    "work_struct": {"func": Role.WORK},
    "notifier_block": {"notifier_call": Role.NOTIFIER},
    # before 5.3 the verbs were fields of ib_device itself, set one by one: `ibdev->reg_user_mr = fn`
    "ib_device": {name: Role.RDMA_VERB for name in _RDMA_VERBS} | {"mmap": Role.MMAP},
}

# Calls that register their argument as a callback of such a context: (position, role). The
# built-in kernel model spells INIT_WORK as a call of __init_work(work, fn).
CALLBACK_ARGUMENTS: dict[str, tuple[int, Role]] = {
    "__init_work": (1, Role.WORK),
    "INIT_WORK": (1, Role.WORK),
    "INIT_DELAYED_WORK": (1, Role.WORK),
}

# Macros that spell one element of a command table, with the command macro each names:
# DRM_IOCTL_DEF_DRV(I915_GEM_USERPTR, fn, flags) is `[DRM_IOCTL_NR(DRM_IOCTL_I915_GEM_USERPTR) -
# DRM_COMMAND_BASE] = {.cmd = DRM_IOCTL_I915_GEM_USERPTR, .func = fn, ...}`.
TABLE_ENTRY_MACROS: dict[str, str] = {"DRM_IOCTL_DEF_DRV": "DRM_IOCTL_{0}", "DRM_IOCTL_DEF": "{0}"}

# At most this many functions a call through a pointer can reach: past it, the call stays
# unresolved (and the program says so).
MAX_INDIRECT_TARGETS = 16

# Code that runs before the device exists or after it is gone.
MODULE_ROLES = frozenset({Role.MODULE_INIT, Role.MODULE_EXIT})
# Kernel contexts of their own, not entered by a system call.
CONTEXT_ROLES = frozenset({Role.WORK, Role.NOTIFIER, Role.MMU_INVALIDATE})
# Where pages mirrored for a device are dropped when user space's mapping changes: pages released
# there are tracked by an MMU notifier, Case 3 of pin_user_pages.rst (FOLL_GET is acceptable).
MIRROR_ROLES = frozenset({Role.MMU_INVALIDATE})
# Where a transfer a system call started completes (a DMA completion handled in a work item): pages
# released there were held for the I/O, Case 1 of the kernel's pin_user_pages.rst.
COMPLETION_ROLES = frozenset({Role.WORK})
# Roles that run on behalf of user space (a system call, or a page fault on its mapping): pages a
# handler keeps outlive it.
SYSCALL_ROLES = frozenset(Role) - MODULE_ROLES - CONTEXT_ROLES
# ioctl handlers with the file signature (file, cmd, arg), whose command `switch` or table dispatches
IOCTL_ROLES = frozenset({Role.IOCTL, Role.COMPAT_IOCTL})
FAULT_ROLES = frozenset({Role.FAULT, Role.PAGE_MKWRITE})
VM_ROLES = frozenset({Role.FAULT, Role.PAGE_MKWRITE, Role.VM_OPEN, Role.VM_CLOSE, Role.VM_ACCESS})
# How a message names what a role's handler runs in ("after the ioctl syscall returns")
_NOT_SYSCALLS: dict[str, str] = {
    Role.FAULT: "the page fault",
    Role.PAGE_MKWRITE: "the page fault (page_mkwrite)",
    Role.VM_OPEN: "the vm_ops open callback",
    Role.VM_CLOSE: "the vm_ops close callback",
    Role.VM_ACCESS: "the vm_ops access callback (ptrace, /proc/pid/mem)",
    Role.WORK: "the work item",
    Role.NOTIFIER: "the notifier",
    Role.MMU_INVALIDATE: "the MMU notifier",
    Role.MODULE_INIT: "module_init",
    Role.MODULE_EXIT: "module_exit",
}


def context_words(role: str) -> str:
    """What a handler of `role` runs in, for a message: "the ioctl syscall", "the page fault"."""
    return _NOT_SYSCALLS.get(role) or f"the {role} syscall"


# Positions of the parameters user space controls: scalars (the ioctl argument, read/write's count)
# and user pointers (the ioctl argument, read/write's buffer).
USER_SCALAR_PARAMS: dict[Role, tuple[int, ...]] = {
    Role.IOCTL: (2,),
    Role.COMPAT_IOCTL: (2,),
    Role.READ: (2,),
    Role.WRITE: (2,),
}
USER_POINTER_PARAMS: dict[Role, tuple[int, ...]] = {
    Role.IOCTL: (2,),
    Role.COMPAT_IOCTL: (2,),
    Role.READ: (1,),
    Role.WRITE: (1,),
}
