"""Writing a file so that a reader sees the old one or the complete new one, never half of it:
``atomic_write(path)``.

It sits at the bottom of the layers, beside ``backend``, because every part that writes files uses
it: the data set cache (``data/datasets``), the training history and checkpoints (``train/``), the
model files and ONNX exports (``io/``), the figures and the apps. ``ownnet.io.atomic_write`` is the
same function.
"""

import contextlib
import os
import secrets

__all__ = ["atomic_write"]


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
