"""``load_digit_image`` (what ``ownnet predict`` reads, issue 17): image bombs refused before decoding,
alpha, float and 16-bit images read as drawn, blank images refused, FIFOs and devices refused."""

import struct
import zlib

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image", reason="reading images needs Pillow (the images extra)")
from PIL import ImageDraw  # noqa: E402

from ownnet.apps.images import MAX_IMAGE_PIXELS, load_digit_image  # noqa: E402


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _ihdr(width, height):
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))  # 8-bit gray


def _png_bomb(path, width, height):
    """A valid white 8-bit gray PNG of ``width`` x ``height``, compressed a row at a time (small on disk)."""
    compressor, parts = zlib.compressobj(1), []
    row = b"\x00" + b"\xff" * width  # filter byte 0, then the row's bytes
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _ihdr(width, height) + _chunk(b"IDAT", b"".join(parts))
                     + _chunk(b"IEND", b""))
    return path


def test_a_large_png_is_refused_before_it_is_decoded(tmp_path, run_with_memory_limit):
    """Before: a 12000 x 12000 PNG was decoded and converted to float32 (720 MB for gray, 1.46 GB for
    RGB); now its size is read from the header and refused."""
    path = _png_bomb(tmp_path / "big.png", 12000, 12000)
    assert path.stat().st_size < 2**20
    code = f"from ownnet.apps.images import load_digit_image; load_digit_image({str(path)!r})"
    outcome, peak_mb = run_with_memory_limit(code, extra_mb=300)
    assert outcome.startswith("ValueError") and f"12000x12000 = 144000000 pixels, more than the limit of " \
        f"{MAX_IMAGE_PIXELS}" in outcome, outcome
    assert peak_mb < 30, f"peak {peak_mb:.0f} MB for an image that should not have been decoded"


def test_an_image_over_pillows_own_limit_is_a_value_error(tmp_path):
    """Before: Pillow's DecompressionBombError (no ValueError, no OSError) reached the CLI as a traceback."""
    path = tmp_path / "huge.png"  # only the header: Pillow refuses it in open()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _ihdr(20000, 20000) + _chunk(b"IDAT", zlib.compress(b""))
                     + _chunk(b"IEND", b""))
    with pytest.raises(ValueError, match=rf"400000000 pixels.*the limit is {MAX_IMAGE_PIXELS} pixels"):
        load_digit_image(path)


def test_a_fifo_a_folder_or_a_device_is_refused_at_once(non_regular_files):
    non_regular_files(load_digit_image, ValueError)


# --- what the image shows -------------------------------------------------------------------------------
def _stroke(mode, background, ink):
    """A vertical bar, a "1", drawn in ``ink`` on ``background``."""
    image = Image.new(mode, (60, 60), background)
    ImageDraw.Draw(image).line([(30, 10), (30, 50)], fill=ink, width=6)
    return image


@pytest.fixture
def reference(tmp_path):
    """The input of the plain black-on-white RGB drawing, which every other encoding must match."""
    path = tmp_path / "reference.png"
    _stroke("RGB", (255, 255, 255), (0, 0, 0)).save(path)
    x = load_digit_image(path)
    assert x.shape == (784,) and x.max() > 0.5
    return x


def _as_float(mode, scale):
    return Image.fromarray(np.asarray(_stroke("L", 255, 0), dtype=np.float32) * scale)


DRAWINGS = {
    # before: the transparent background read as black, the same as the black ink: an empty input
    "black ink on transparent": lambda: _stroke("RGBA", (0, 0, 0, 0), (0, 0, 0, 255)),
    "white ink on transparent": lambda: _stroke("RGBA", (0, 0, 0, 0), (255, 255, 255, 255)),
    "drawn in the alpha only": lambda: _stroke("RGBA", (255, 255, 255, 0), (255, 255, 255, 255)),
    "gray with alpha": lambda: _stroke("LA", (0, 0), (0, 255)),
    # before: Pillow's convert("L") clipped 0..1 floats to 0 and 1
    "float 0..1": lambda: _as_float("F", 1 / 255),
    "float 0..255": lambda: _as_float("F", 1.0),
    "16-bit": lambda: Image.fromarray(np.asarray(_stroke("L", 0, 255), dtype=np.uint16) * 257),
}


@pytest.mark.parametrize("name", DRAWINGS)
def test_every_encoding_of_a_drawing_gives_the_same_input(tmp_path, reference, name):
    image = DRAWINGS[name]()
    path = tmp_path / ("drawing.tiff" if image.mode == "F" else "drawing.png")
    image.save(path)
    np.testing.assert_allclose(load_digit_image(path), reference, atol=1 / 255)


BLANKS = {
    "transparent": lambda: Image.new("RGBA", (40, 40), (0, 0, 0, 0)),
    "white": lambda: Image.new("L", (40, 40), 255),
    "mid gray": lambda: Image.new("RGB", (40, 40), (100, 100, 100)),
    "faint speck": lambda: _stroke("L", 255, 250),
    "float zeros": lambda: Image.fromarray(np.zeros((40, 40), np.float32)),
}


@pytest.mark.parametrize("name", BLANKS)
def test_an_image_without_ink_is_refused_not_classified(tmp_path, name):
    """Before: a blank image became an all-zero input and got a confident-looking answer."""
    image = BLANKS[name]()
    path = tmp_path / ("blank.tiff" if image.mode == "F" else "blank.png")
    image.save(path)
    with pytest.raises(ValueError, match=r"the image is empty \(no ink\)"):
        load_digit_image(path)


def test_nan_pixels_are_refused(tmp_path):
    values = np.zeros((20, 20), np.float32)
    values[5, 5] = np.nan
    Image.fromarray(values).save(tmp_path / "nan.tiff")
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_digit_image(tmp_path / "nan.tiff")


def test_a_file_that_is_not_an_image_is_an_os_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(OSError):
        load_digit_image(tmp_path / "x.png")
