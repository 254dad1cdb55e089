"""Model files that claim more than they hold (issue 17): zip bombs in an ``.npz``, shapes NumPy cannot
allocate, FIFOs and devices. Memory is measured in a child process under an address-space limit
(``run_with_memory_limit`` in tests/conftest.py), so a regression fails instead of filling the machine.
"""

import io
import json
import zipfile

import numpy as np
import pytest

import ownnet as on
from ownnet.io import ModelFormatError, read_metadata, read_tensors

BOMB_MB = 100
"""The declared size of the bomb members: 100 MB of zeros, about 100 KB deflated."""


def _npy_header(shape, descr="<f4"):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue()


def _write_zeros(archive, name, header, nbytes):
    """A deflated member ``name``: ``header`` then ``nbytes`` zero bytes, written 1 MB at a time."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        member.write(header)
        for start in range(0, nbytes, 2**20):
            member.write(bytes(min(2**20, nbytes - start)))


def _bomb(tmp_path, name="bomb.npz", bomb_first=False, extra_member=None):
    """A valid model ``.npz`` plus a deflated member ``bomb.npy`` declaring ``BOMB_MB`` MB of float32."""
    source = zipfile.ZipFile(on.save(on.Sequential(on.Linear(2, 2)), tmp_path / "m.npz", format="npz"))
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        nbytes = BOMB_MB * 2**20
        if bomb_first:
            _write_zeros(archive, "bomb.npy", _npy_header((nbytes // 4,)), nbytes)
        for member in source.namelist():
            archive.writestr(member, source.read(member))
        if not bomb_first:
            _write_zeros(archive, "bomb.npy", _npy_header((nbytes // 4,)), nbytes)
        if extra_member:
            archive.writestr(extra_member, b"not an array")
    assert path.stat().st_size < 2**20  # small on disk
    return path


def test_npz_bomb_takes_no_more_than_its_declared_size(tmp_path, run_with_memory_limit):
    """Before: the member was read whole, then copied (2x the declared size, 1.95 GB for 1 GB)."""
    path = _bomb(tmp_path)
    outcome, peak_mb = run_with_memory_limit(f"ownnet.load({str(path)!r})", extra_mb=BOMB_MB + 100)
    assert outcome.startswith("ModelFormatError") and "unexpected ['bomb']" in outcome, outcome
    assert peak_mb < BOMB_MB * 1.1 + 30, f"peak {peak_mb:.0f} MB for a {BOMB_MB} MB member"


def test_npz_member_names_are_checked_before_any_member_is_read(tmp_path, run_with_memory_limit):
    """Before: the bomb (first in the archive) was decompressed before the bad name was seen."""
    path = _bomb(tmp_path, bomb_first=True, extra_member="evil.pkl")
    outcome, peak_mb = run_with_memory_limit(f"ownnet.load({str(path)!r})", extra_mb=BOMB_MB + 100)
    assert outcome.startswith("ModelFormatError") and "unexpected member 'evil.pkl'" in outcome, outcome
    assert peak_mb < 30, f"peak {peak_mb:.0f} MB before any member should have been read"


def test_npz_member_compressed_with_another_method_is_refused(tmp_path):
    """bzip2 and lzma have no fixed bound on their expansion; an .npz member is stored or deflated."""
    path = tmp_path / "m.npz"
    on.save(on.Linear(2, 2), path, format="npz")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "b.npz", "w") as archive:
        for member in source.namelist():
            archive.writestr(member, source.read(member), compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(ModelFormatError, match="stored or deflated"):
        on.load(tmp_path / "b.npz")


def _safetensors_with_extra(tmp_path, shape):
    path = on.save(on.Linear(2, 2), tmp_path / "m.safetensors")
    raw = path.read_bytes() if hasattr(path, "read_bytes") else open(path, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    header["extra"] = {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}
    encoded = json.dumps(header).encode()
    (tmp_path / "x.safetensors").write_bytes(len(encoded).to_bytes(8, "little") + encoded + raw[8 + length:])
    return tmp_path / "x.safetensors"


@pytest.mark.parametrize("shape", [[0, 2**63], [0, 2**63 - 1], [0, 2**40, 2**40], [2**64, 0]])
def test_zero_size_shape_too_large_for_numpy_is_a_model_format_error(tmp_path, shape):
    """Before: a bare ValueError from np.empty ("Maximum allowed dimension exceeded")."""
    path = _safetensors_with_extra(tmp_path, shape)
    with pytest.raises(ModelFormatError, match="too large for an array"):
        on.load(path)
    with pytest.raises(ModelFormatError, match="too large for an array"):
        read_tensors(path)


def test_zero_size_shape_too_large_for_numpy_in_an_npz(tmp_path):
    path = tmp_path / "m.npz"
    on.save(on.Linear(2, 2), path, format="npz")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra.npy", _npy_header((0, 2**63)))
    with pytest.raises(ModelFormatError, match="not the shape of an array"):
        on.load(path)


@pytest.mark.parametrize("read", [on.load, read_tensors, read_metadata], ids=["load", "read_tensors",
                                                                               "read_metadata"])
def test_a_fifo_a_folder_or_a_device_is_refused_at_once(read, non_regular_files):
    """Before: ``mkfifo f.st; on.load("f.st")`` waited forever for a writer."""
    non_regular_files(read, ModelFormatError)


def test_npz_round_trip_of_every_layout_still_reads(tmp_path):
    """The chunked reader keeps what the whole-member reader read: Fortran order, big-endian, 0-d."""
    arrays = {"f": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
              "big": np.arange(5, dtype=">i4"), "scalar": np.array(2.5), "empty": np.zeros((0, 3), "<u2")}
    path = tmp_path / "t.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    from ownnet.io.npz import read_npz

    tensors, _ = read_npz(path)
    for name, array in arrays.items():
        assert tensors[name].dtype.isnative and tensors[name].flags.c_contiguous
        np.testing.assert_array_equal(tensors[name], array)
