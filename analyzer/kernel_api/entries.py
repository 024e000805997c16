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


# Ops structures recorded by the front end (their initialisers name entry points and callbacks).
OPS_STRUCTS = frozenset(
    {
        "file_operations", "vm_operations_struct", "miscdevice", "proc_ops",
        "platform_driver", "pci_driver", "mmu_interval_notifier_ops", "mmu_notifier_ops",
    }
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
}

# Roles that run in the context of a system call made by user space.
SYSCALL_ROLES = frozenset(Role) - {Role.MODULE_INIT, Role.MODULE_EXIT}
IOCTL_ROLES = frozenset({Role.IOCTL, Role.COMPAT_IOCTL})
FAULT_ROLES = frozenset({Role.FAULT, Role.PAGE_MKWRITE})
VM_ROLES = frozenset({Role.FAULT, Role.PAGE_MKWRITE, Role.VM_OPEN, Role.VM_CLOSE, Role.VM_ACCESS})
# Code that runs before the device exists or after it is gone.
MODULE_ROLES = frozenset({Role.MODULE_INIT, Role.MODULE_EXIT})

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
