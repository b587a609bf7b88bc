"""Beak photos (seed 004): only a real PNG or JPEG within bounds, reduced to a 128-bit perceptual hash.

The hash is a difference hash (dHash) taken both across and down a 9×9 grey thumbnail: it
survives re-encoding, slight noise and resizing, and says nothing recoverable about the photo,
which is never stored.
"""

import io
import warnings

from PIL import Image, ImageStat

MAX_BYTES = 5 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096
FORMATS = ("PNG", "JPEG")
MIN_CONTRAST = 8.0  # grey-level standard deviation; below it there is nothing to see, beak or not


class BeakPhotoRejected(ValueError):
    """A photo that cannot be a beak photo; str() says why, for a person."""


def beak_print(data: bytes) -> int:
    """The perceptual hash of a beak photo; BeakPhotoRejected when it is not an acceptable photo."""
    image = _decode(data)
    grey = image.convert("L")
    if ImageStat.Stat(grey).stddev[0] < MIN_CONTRAST:
        raise BeakPhotoRejected("The photo is nearly blank; we cannot see a beak in it.")
    return _difference_hash(grey)


def _decode(data: bytes) -> Image.Image:
    if not data:
        raise BeakPhotoRejected("Choose a photo of your beak to upload.")
    if len(data) > MAX_BYTES:
        raise BeakPhotoRejected(f"The photo is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
            width, height = image.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise BeakPhotoRejected(
                    f"The photo is {width}×{height} pixels; "
                    f"each side must be {MIN_SIDE} to {MAX_SIDE} pixels."
                )
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except BeakPhotoRejected:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise BeakPhotoRejected("That file is not a PNG or JPEG image.") from None
    return image


def _difference_hash(grey: Image.Image) -> int:
    size = 9
    pixels = grey.resize((size, size), Image.Resampling.LANCZOS).load()
    bits = 0
    for y in range(size - 1):
        for x in range(size - 1):
            bits = (bits << 1) | (pixels[x, y] > pixels[x + 1, y])  # across
            bits = (bits << 1) | (pixels[x, y] > pixels[x, y + 1])  # down
    return bits
