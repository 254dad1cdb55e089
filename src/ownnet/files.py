"""Writing a file so that a reader sees the old one or the complete new one, never half of it:
``atomic_write(path)``.

It sits at the bottom of the layers, beside ``backend``, because every part that writes files uses
it: the data set cache (``data/datasets``), the training history and checkpoints (``train/``), the
model files and ONNX exports (``io/``), the figures and the apps. ``ownnet.io.atomic_write`` is the
same function. Reading: ``open_regular_file(path)`` opens a file for the readers of untrusted files
(model files, IDX data, images) and refuses a FIFO, a device or a folder up front.

A save killed midway (SIGKILL, power loss) leaves its temporary file behind. The next save of the same
file removes such leftovers: those named ``.<name>.tmp-<16 hex digits>``, at least ``STALE_SECONDS``
old, and not locked. A writer holds an exclusive ``flock`` on its temporary file until the rename (a
lock dies with its process), so a file another live writer is writing is never removed; where
``fcntl`` is missing (Windows), an open file cannot be deleted, which protects it in the same way.
"""

import contextlib
import os
import re
import secrets
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # Windows: no flock; an open file cannot be deleted there
    fcntl = None

__all__ = ["STALE_SECONDS", "atomic_write", "check_writable_folder", "open_regular_file"]

STALE_SECONDS = 60.0
"""How old (last modified) a leftover temporary file must be before a later save removes it."""


@contextlib.contextmanager
def atomic_write(path):
    """Yield a binary file object for a temporary file next to ``path`` (``.<name>.tmp-<random>``);
    on success it is flushed, fsync'ed and renamed over ``path`` (``os.replace``, atomic), so a
    reader sees either the old file or the complete new one. On an exception the temporary file is
    removed and the previous ``path`` is left untouched."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = os.path.join(folder, f".{name}.tmp-{secrets.token_hex(8)}")
        try:
            descriptor = os.open(temporary, flags, 0o666)  # 0o666 & ~umask, as open() would
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as file:
            _lock(file.fileno(), blocking=True)  # held until closed: the mark of a live writer
            yield file
            file.flush()
            os.fsync(file.fileno())
            os.utime(temporary)  # young again: never taken for stale between the close and the rename
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)
    remove_stale_temporaries(folder, name)


def _lock(descriptor, blocking):
    """Take an exclusive ``flock`` on ``descriptor``; False if another process holds one (and
    ``blocking`` is False) or the file system has no locks. Always True without ``fcntl``."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:  # held by another process (BlockingIOError), or no locks here: keep the file
        return False
    return True


def remove_stale_temporaries(folder, name):
    """Delete ``folder``'s leftover temporary files of ``name`` (``.<name>.tmp-<16 hex>``) that are
    regular files, at least ``STALE_SECONDS`` old and locked by no writer; returns how many."""
    pattern = re.compile(re.escape(f".{name}.tmp-") + "[0-9a-f]{16}")
    candidates = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        candidates = [entry.path for entry in entries if pattern.fullmatch(entry.name)]
    removed = 0
    for path in candidates:
        with contextlib.suppress(OSError):
            removed += _remove_if_stale(path)
    return removed


def _remove_if_stale(path):
    """Delete ``path`` if it is a regular file, old enough and unlocked (checked on the descriptor,
    under the lock); returns whether it did."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < STALE_SECONDS:
            return False
        if not _lock(descriptor, blocking=False):  # a live writer holds it
            return False
        os.unlink(path)  # on Windows this fails while another process has the file open
        return True
    finally:
        os.close(descriptor)


def check_writable_folder(folder):
    """Create ``folder`` if needed and check that a file can be written in it (an empty temporary
    file, removed at once); raises ``OSError`` if not."""
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder, prefix=".ownnet-write-check-"):
        pass


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- reading: regular files only (issue 17) --------------------------------------------------------
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular_file(path, error=ValueError):
    """Open ``path`` for binary reading if it is a regular file; raise ``error(message)`` if it is a
    folder, a FIFO, a device or a socket (a FIFO blocks ``open`` until a writer comes and a device
    such as ``/dev/zero`` never ends, so a reader would hang or fill memory).

    The check is made on the opened descriptor, so the path cannot be swapped between the check and
    the reads; the open itself does not block (``O_NONBLOCK``, cleared again for a regular file).
    A missing file raises ``FileNotFoundError`` as ``open`` does.
    """
    path = os.fspath(path)
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise error(f"{path}: {kind}, not a regular file; expected a file to read")
        if nonblocking:
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
