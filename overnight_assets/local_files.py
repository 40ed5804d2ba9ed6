"""Opening a configured path for reading only when it is a regular file.

A path in the config (an auth log, a feed file) may turn out to be a FIFO, a device, a socket or
a directory. Opening a FIFO blocks until someone writes to it, and /dev/zero never ends: either
would hang an asset forever. So the path is checked with stat before it is opened, and the open
itself is non-blocking and checked again with fstat, for the path swapped in between.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = {
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISDIR: "a directory",
    stat.S_ISSOCK: "a socket",
}


class NotARegularFile(OSError):
    """The path exists but is something a reader could hang on or make no sense of."""


def open_regular_file(path: str | os.PathLike) -> BinaryIO:
    """The file opened for binary reading; OSError (NotARegularFile for a FIFO, a device, a directory
    or a socket) with a one-line `strerror` otherwise."""
    _check_regular(os.stat(path).st_mode, path)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _check_regular(os.fstat(descriptor).st_mode, path)
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _check_regular(mode: int, path) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS.items() if test(mode)), "not a file")
    raise NotARegularFile(errno.EINVAL, f"not a regular file ({kind})", str(path))
