"""Turn a picture of a digit into the 28x28 input an MNIST model expects (Pillow, an optional extra).

MNIST digits are white on black, fit in a 20x20 box and are centred by their centre of mass in a
28x28 frame; ``mnist_style`` does the same to any grayscale image.
"""

import numpy as np


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
    rows, cols = np.nonzero(gray)
    if len(rows) == 0:
        return np.zeros(784, dtype=np.float32)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
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


def load_digit_image(path):
    """Read a PNG/JPEG (any size, colour or gray, either polarity) as a ``(784,)`` MNIST-style input."""
    Image = _pil()
    with Image.open(path) as image:
        gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return mnist_style(gray)
