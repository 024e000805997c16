"""gupcheck: static analysis of user memory at the kernel/userland boundary."""

__version__ = "0.1.0"
INFORMATION_URI = "https://github.com/gupcheck/gupcheck"
