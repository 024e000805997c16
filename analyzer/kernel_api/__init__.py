"""What gupcheck knows of the kernel's and the C library's APIs, one family a module.

Like Smatch's `smatch_data/`, the knowledge lives in tables apart from the analyses that read it:
teaching gupcheck a new allocator, pin API or lock API is one line in one table here.

- `allocators`: what allocates memory (kernel and libc), with its flags and size arguments
- `frees`: what frees it
- `memory`: calls that read or write the memory their arguments point to, and their byte counts
- `uaccess`: copies to and from user space, range checks, user-address conversions
- `pins`: the pin and release families of user pages, by signature and kernel version
- `locks`: lock acquire and release calls of every kind
- `containers`: calls that link an object into a longer-lived container
- `mapping`: calls that map kernel memory into user space, address conversions
- `atomics`: marked (one-access) loads and stores, atomics, counters
- `bounds`: calls that bound their result from above
- `errors`: the kernel's error-pointer conventions
- `macros`: APIs that are macros (recognised by name at the call site)
- `entries`: ops structures, the syscalls that call their fields, user-controlled parameters
- `libc`: the fork family and madvise
- `declared`: what the configuration's `[api]` table declares, and `overlay` merges it with the tables
"""
