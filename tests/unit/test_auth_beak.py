"""Beak photos: only real PNG or JPEG within bounds; the same beak re-photographed matches, another does not.
Every image is drawn here with Pillow."""

import io
import random

import pytest
from PIL import Image, ImageDraw

from auth import beak
from auth.beak import BeakPhotoRejected
from auth.domain import beaks_match, hamming_distance


def beak_image(seed: int, size=(400, 300)) -> Image.Image:
    """A made-up beak: a few coloured shapes on a background, different for every seed."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, tuple(rnd.randrange(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(6):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1, y1 = (
            x0 + rnd.randrange(width // 10, width // 2),
            y0 + rnd.randrange(height // 10, height // 2),
        )
        colour = tuple(rnd.randrange(256) for _ in range(3))
        if rnd.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.polygon([(x0, y0), (x1, (y0 + y1) // 2), (x0, y1)], fill=colour)
    return image


def retaken(image: Image.Image, seed: int = 1) -> Image.Image:
    """The same beak photographed again: smaller, with sensor noise."""
    rnd = random.Random(seed)
    image = image.resize((int(image.width * 0.8), int(image.height * 0.8)))
    pixels = image.load()
    for _ in range(3000):
        x, y = rnd.randrange(image.width), rnd.randrange(image.height)
        shift = rnd.randint(-30, 30)
        pixels[x, y] = tuple(max(0, min(255, channel + shift)) for channel in pixels[x, y])
    return image


def encoded(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_the_same_beak_retaken_as_jpeg_matches():
    for seed in range(5):
        registered = beak.beak_print(encoded(beak_image(seed)))
        offered = beak.beak_print(encoded(retaken(beak_image(seed), seed), "JPEG", quality=70))
        assert beaks_match(registered, offered), hamming_distance(registered, offered)


def test_other_beaks_do_not_match():
    registered = beak.beak_print(encoded(beak_image(0)))
    for seed in range(100, 140):
        offered = beak.beak_print(encoded(beak_image(seed)))
        assert not beaks_match(registered, offered), (seed, hamming_distance(registered, offered))


def test_a_beak_print_has_128_bits():
    assert 0 < beak.beak_print(encoded(beak_image(3))) < 2**128


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "Choose a photo"),
        (b"this is a text file, whatever its name says", "not a PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a PNG or JPEG"),
        (encoded(beak_image(1), "GIF"), "not a PNG or JPEG"),
        (encoded(beak_image(1), "BMP"), "not a PNG or JPEG"),
        (
            encoded(beak_image(1))[:2000],
            "not a PNG or JPEG",
        ),  # truncated: the header is fine, the pixels are not
        (encoded(beak_image(1, (63, 200))), "63×200 pixels"),
        (encoded(beak_image(1, (4097, 64))), "4097×64 pixels"),
        (encoded(Image.new("RGB", (300, 300), (200, 120, 40))), "nearly blank"),
    ],
)
def test_anything_but_a_real_png_or_jpeg_within_bounds_is_refused(data, reason):
    with pytest.raises(BeakPhotoRejected, match=reason):
        beak.beak_print(data)


def test_a_photo_over_5_mb_is_refused_before_decoding():
    with pytest.raises(BeakPhotoRejected, match="larger than 5 MB"):
        beak.beak_print(encoded(beak_image(1)) + b"\x00" * beak.MAX_BYTES)


def test_a_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(
        Image, "MAX_IMAGE_PIXELS", 10_000
    )  # so that a small test image counts as a bomb
    with pytest.raises(BeakPhotoRejected, match="not a PNG or JPEG"):
        beak.beak_print(encoded(beak_image(1)))
