"""Which of the files a translation unit includes belong to the analysed code, so that the functions
they define (a driver's `static inline` accessors in its own `foo.h`) are walked with the file's.

A file other than the main one is the code's own unless it is one of the headers the code is built
against:

- anything in a folder the flags name as a system folder (`-isystem`, `-idirafter`: the compiler's
  builtin headers), in the built-in kernel model, or under /usr/include, /usr/local/include, /usr/lib;
- anything in a kernel tree (a folder holding `include/linux/kconfig.h`, the sources, or
  `include/generated/autoconf.h`, the build tree: Debian's split -common and -amd64 halves are both
  kernel trees), except, for a file that itself lies in that tree (an in-tree driver parsed with its
  own kernel's headers), the tree's other folders than `include/` and `arch/<arch>/include/`: there
  `drivers/misc/mei/mei_dev.h` is the driver's, `include/linux/mm.h` the kernel's.

The answer depends only on the paths and the flags (`FileConfig`), which the fact cache keys on.
"""

from __future__ import annotations

import functools
import os

from gupcheck.frontend.buildconfig import FileConfig, model_include_dir

_SYSTEM_FOLDERS = ("/usr/include", "/usr/local/include", "/usr/lib")
_SYSTEM_FLAGS = ("-isystem", "-idirafter")
MAX_PATH_DEPTH = 64  # folders looked up from a header for a kernel tree's root


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@functools.lru_cache(maxsize=4096)
def _is_kernel_root(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "include", "linux", "kconfig.h")) or os.path.isfile(
        os.path.join(folder, "include", "generated", "autoconf.h")
    )


@functools.lru_cache(maxsize=4096)
def kernel_root_of(folder: str) -> str | None:
    """The kernel tree `folder` lies in (the nearest enclosing folder that is one), or None."""
    current = folder
    for _ in range(MAX_PATH_DEPTH):
        if _is_kernel_root(current):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None


def _in_kernel_include_folder(path: str, root: str) -> bool:
    """Whether `path` lies in `root`'s include/ or arch/<arch>/include/ folder."""
    relative = os.path.relpath(path, root).split(os.sep)
    if relative[0] == "include":
        return True
    return len(relative) > 3 and relative[0] == "arch" and relative[2] == "include"


class OwnFiles:
    """The own-file test for one translation unit (its main file and flags)."""

    def __init__(self, config: FileConfig) -> None:
        self.main = os.path.normpath(config.path)
        self.main_root = kernel_root_of(os.path.dirname(self.main))
        folders = [model_include_dir(), *_SYSTEM_FOLDERS]
        args = config.args
        for position, arg in enumerate(args):
            for flag in _SYSTEM_FLAGS:
                if arg == flag and position + 1 < len(args):
                    folders.append(args[position + 1])
                elif arg.startswith(flag) and len(arg) > len(flag):
                    folders.append(arg[len(flag) :])
        self.system = tuple(os.path.normpath(os.path.join(config.directory, f)) for f in folders)
        self._answers: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether the file libclang names `name` (as included) is the analysed code's own."""
        found = self._answers.get(name)
        if found is None:
            found = self._answers[name] = self._own(name)
        return found

    def _own(self, name: str) -> bool:
        path = file_path(name)
        if path == self.main or any(_under(path, folder) for folder in self.system):
            return False
        root = kernel_root_of(os.path.dirname(path))
        if root is None:
            return True
        return root == self.main_root and not _in_kernel_include_folder(path, root)


def file_path(name: str) -> str:
    """The path findings name for the file libclang calls `name`: absolute and normalised, so that a
    header reached as `foo/../foo.h` from one file and `foo.h` from another is one file. libclang opens
    a relative name (from a relative -I) from the working directory, as this does."""
    return os.path.normpath(os.path.abspath(name))
