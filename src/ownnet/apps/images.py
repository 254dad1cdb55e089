"""Turn a picture of a digit into the 28x28 input an MNIST model expects (Pillow, an optional extra).

MNIST digits are white on black, fit in a 20x20 box and are centred by their centre of mass in a
28x28 frame; ``mnist_style`` does the same to any grayscale image. ``load_digit_image`` reads a file
into that grayscale first: any mode Pillow reads (8- and 16-bit, float, colour, with or without
alpha), at most ``MAX_IMAGE_PIXELS`` pixels, and refuses an image with no ink instead of classifying it.
"""

import warnings

import numpy as np

from ownnet.files import open_regular_file

MAX_IMAGE_PIXELS = 25_000_000
"""The largest image ``load_digit_image`` decodes: 25 megapixels (5000 x 5000), twice a phone photo and
far more than a digit needs. The size is checked from the file's header before any pixel is decoded,
so a small file declaring a huge image (a decompression bomb) is refused without using memory;
decoding and preparing an image at the limit takes about 0.5 GB."""

INK_CONTRAST = 0.1
"""A pixel is ink when it differs from the background (the median of the border) by more than this
(on the 0..1 scale); ``mnist_style`` keeps pixels above the same 0.1 as ink."""

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install 'ownnet[images]'") from None
    return Image


def mnist_style(gray):
    """``(height, width)`` grayscale in [0, 1], any polarity -> ``(784,)`` float32 in [0, 1]."""
    Image = _pil()
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a 2-D grayscale image, got shape {gray.shape}")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 0.5:  # dark ink on light paper: make it light ink on black, as in MNIST
        gray = 1.0 - gray
    gray = np.where(gray > 0.1, gray, 0.0)
    rows, cols = np.flatnonzero(gray.any(axis=1)), np.flatnonzero(gray.any(axis=0))
    if len(rows) == 0:
        return np.zeros(784, dtype=np.float32)
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = 20.0 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS),
                       dtype=np.float32) / 255.0
    frame = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    # Shift so that the centre of mass sits at the centre of the frame.
    total = frame.sum()
    cy = (frame.sum(axis=1) * np.arange(28)).sum() / total
    cx = (frame.sum(axis=0) * np.arange(28)).sum() / total
    dy, dx = int(round(13.5 - cy)), int(round(13.5 - cx))
    frame = np.roll(np.roll(frame, dy, axis=0), dx, axis=1)
    return np.clip(frame, 0.0, 1.0).reshape(784)


def _open(file, path):
    """The opened (not yet decoded) image, refused when it declares more than ``MAX_IMAGE_PIXELS``."""
    Image = _pil()
    with warnings.catch_warnings():  # Pillow warns above its own limit; ours is lower and an error
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(file)
        except Image.DecompressionBombError as error:  # over twice Pillow's limit: refused in open()
            raise ValueError(f"{path}: the image is too large for a digit image ({error}); the limit is "
                             f"{MAX_IMAGE_PIXELS} pixels") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise ValueError(f"{path}: the image has {width}x{height} = {width * height} pixels, more than the "
                         f"limit of {MAX_IMAGE_PIXELS} for a digit image; scale it down first")
    return image


def _high_depth_gray(image, path):
    """A float (mode ``F``) or 16/32-bit integer (``I``, ``I;16``...) image as gray in [0, 1]: floats in
    0..1 as they are, floats up to 255 divided by 255; 16-bit values (and larger floats) by 65535."""
    values = np.array(image, dtype=np.float32)  # a copy: scaled in place below
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: the image holds NaN or infinite pixel values")
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > 65535:
        raise ValueError(f"{path}: pixel values from {low} to {high}; expected values in 0..1 (float), "
                         f"0..255 or 0..65535 (16-bit)")
    if image.mode == "F" and high <= 255:
        values /= 1.0 if high <= 1 else 255.0
    else:
        values /= 65535.0
    return values


def _gray_and_alpha(image, path):
    """``(gray, alpha)``, float32 in [0, 1]: ``gray`` composited on white where the image has alpha
    (``alpha`` is then its alpha channel, else ``None``)."""
    if image.mode == "F" or image.mode.startswith("I"):
        return _high_depth_gray(image, path), None
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, None
    rgba = image.convert("RGBA")
    gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0  # the colour, alpha ignored
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    gray -= 1.0  # in place: gray * alpha + 1 * (1 - alpha) = (gray - 1) * alpha + 1, on white paper
    gray *= alpha
    gray += 1.0
    return gray, alpha


def _ink(gray, alpha, path):
    """The image whose contrast shows the digit; a ``ValueError`` when there is none (a blank image)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if max(float(gray.max()) - background, background - float(gray.min())) > INK_CONTRAST:
        return gray
    if alpha is not None and float(alpha.max()) - float(alpha.min()) > INK_CONTRAST:
        return alpha  # one colour everywhere, drawn in the alpha channel: opaque is ink (light on black)
    raise ValueError(f"{path}: the image is empty (no ink): every pixel is within {INK_CONTRAST} of the "
                     f"background level {background:.2f}; expected a digit in a contrasting colour")


def load_digit_image(path):
    """Read an image file (PNG, JPEG, TIFF...: any size up to ``MAX_IMAGE_PIXELS``, colour or gray,
    either polarity) as a ``(784,)`` MNIST-style input.

    - **Alpha** (RGBA, LA, a palette or gray with a transparent colour): the image is composited on
      white paper, so dark ink on a transparent background reads as written. When that leaves no
      contrast (the colour is the same everywhere: light ink on a transparent background, or a
      drawing that lives only in the alpha channel), the alpha channel is the ink (opaque = ink).
    - **Float** images (mode ``F``, e.g. a float TIFF): values in 0..1 are used as they are, values up
      to 255 are divided by 255. **16-bit** images (``I;16``, ``I``): divided by 65535.
    - An image **without ink** (no pixel differs from the border's median level by more than
      ``INK_CONTRAST``) raises ``ValueError("the image is empty (no ink): ...")`` instead of being
      classified. So do an image over ``MAX_IMAGE_PIXELS`` (checked before decoding), NaN pixels and
      a path that is a FIFO, a device or a folder; a file that is not an image raises ``OSError``.
    """
    with open_regular_file(path) as file, _open(file, path) as image:
        try:
            gray, alpha = _gray_and_alpha(image, path)
        except (EOFError, SyntaxError) as error:  # what some of Pillow's decoders raise on a broken file
            raise ValueError(f"{path}: cannot decode the image ({type(error).__name__}: {error})") from None
    x = mnist_style(_ink(gray, alpha, path))
    if not x.any():  # contrast, but none of it above mnist_style's ink level
        raise ValueError(f"{path}: the image is empty (no ink): no pixel is darker or lighter than the "
                         f"paper by more than {INK_CONTRAST}")
    return x
