"""What gupcheck knows of the kernel and libc APIs: one table a family, and the declared overlay."""
