"""``ownnet.files``: atomic writes clean up the leftovers of a killed save, never a live writer's file;
``check_writable_folder`` fails before any work is done."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from ownnet import files
from ownnet.files import STALE_SECONDS, atomic_write, check_writable_folder


def _leftover(folder, name, age, suffix="0123456789abcdef"):
    """A temporary file as a killed save leaves it, last modified ``age`` seconds ago."""
    path = folder / f".{name}.tmp-{suffix}"
    path.write_bytes(b"half a file")
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def _save(path, data=b"complete"):
    with atomic_write(path) as f:
        f.write(data)


def test_the_next_save_removes_stale_leftovers_of_the_same_file(tmp_path):
    stale = _leftover(tmp_path, "model.safetensors", STALE_SECONDS + 5)
    _save(tmp_path / "model.safetensors")
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_recent_leftovers_and_other_files_are_kept(tmp_path):
    recent = _leftover(tmp_path, "model.safetensors", 1)  # maybe a writer that is starting
    other_target = _leftover(tmp_path, "metrics.json", STALE_SECONDS + 5)  # another file's
    not_ours = _leftover(tmp_path, "model.safetensors", STALE_SECONDS + 5, suffix="notours")
    user_file = tmp_path / "model.safetensors.tmp-0123456789abcdef"  # no leading dot: not ownnet's
    user_file.write_bytes(b"mine")
    os.utime(user_file, (0, 0))
    _save(tmp_path / "model.safetensors")
    assert recent.exists() and other_target.exists() and not_ours.exists() and user_file.exists()


def test_a_leftover_that_is_a_folder_or_a_link_is_kept(tmp_path):
    folder = tmp_path / ".model.safetensors.tmp-00000000000000aa"
    folder.mkdir()
    target = tmp_path / "precious"
    target.write_bytes(b"x")
    os.utime(target, (0, 0))
    link = tmp_path / ".model.safetensors.tmp-00000000000000bb"
    link.symlink_to(target)
    _save(tmp_path / "model.safetensors")
    assert folder.is_dir() and link.is_symlink() and target.read_bytes() == b"x"


@pytest.mark.skipif(files.fcntl is None, reason="flock is POSIX (Windows refuses to delete open files)")
def test_a_live_writers_file_is_never_removed_however_old(tmp_path):
    """A writer in another process, stalled mid-write for longer than STALE_SECONDS (its file's
    time set back), keeps its temporary file and then completes its save."""
    target = tmp_path / "model.safetensors"
    code = f"""
        import sys
        from ownnet.files import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"first half ")
            f.flush()
            print("writing", flush=True)
            sys.stdin.readline()  # stalled until the test says go on
            f.write(b"second half")
    """
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        (live,) = [p for p in tmp_path.iterdir() if p.name.startswith(".model.safetensors.tmp-")]
        os.utime(live, (0, 0))  # "older than a minute"
        assert files.remove_stale_temporaries(tmp_path, "model.safetensors") == 0
        _save(target, b"another writer's version")  # a save of the same file in this process
        assert live.exists()
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.wait(timeout=30) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert target.read_bytes() == b"first half second half"


def test_a_killed_writers_file_is_removed_by_the_next_save(tmp_path):
    """SIGKILL releases the writer's lock: its leftover is stale once old enough."""
    target = tmp_path / "model.safetensors"
    code = f"""
        import time
        from ownnet.files import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"half")
            f.flush()
            print("writing", flush=True)
            time.sleep(600)
    """
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
    finally:
        writer.kill()
        writer.wait()
    (leftover,) = [p for p in tmp_path.iterdir() if p.name.startswith(".model.safetensors.tmp-")]
    _save(target)
    assert leftover.exists()  # a few seconds old: kept
    os.utime(leftover, (0, 0))
    _save(target)
    assert not leftover.exists() and target.read_bytes() == b"complete"


def test_check_writable_folder_creates_the_folder_and_leaves_nothing(tmp_path):
    folder = tmp_path / "a" / "b"
    check_writable_folder(folder)
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_check_writable_folder_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        check_writable_folder(tmp_path / "file" / "run")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_check_writable_folder_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            check_writable_folder(folder)
    finally:
        folder.chmod(0o700)
