"""Writing a file so that a reader sees the old one or the complete new one, never half of it:
``atomic_write(path)``.

It sits at the bottom of the layers, beside ``backend``, because every part that writes files uses
it: the data set cache (``data/datasets``), the training history and checkpoints (``train/``), the
model files and ONNX exports (``io/``), the figures and the apps. ``ownnet.io.atomic_write`` is the
same function. Reading: ``open_regular_file(path)`` opens a file for the readers of untrusted files
(model files, IDX data, images) and refuses a FIFO, a device or a folder up front.
"""

import contextlib
import os
import secrets
import stat

__all__ = ["atomic_write", "open_regular_file"]


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
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


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
