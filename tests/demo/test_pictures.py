"""The demo's pictures (demo/pictures.py): one coloured shape, drawn the same from the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.demo.data import render
from siglip_retriever.errors import ConfigurationError


@pytest.mark.parametrize("size", [16, 32, 64, 97])
def test_render_gives_rgb_of_the_requested_size(size: int) -> None:
    image = render("star", "purple", np.random.default_rng(0), size=size)
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert image.size == (size, size)


def test_render_is_deterministic_and_varied() -> None:
    first = np.asarray(render("triangle", "green", 5))
    again = np.asarray(render("triangle", "green", np.random.default_rng(5)))
    other = np.asarray(render("triangle", "green", 6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_render_paints_the_colour() -> None:
    # on average over pictures, the named colour's channel pattern dominates the shape's pixels
    rng = np.random.default_rng(0)
    for colour, channel in (("red", 0), ("green", 1), ("blue", 2)):
        means = np.zeros(3)
        for _ in range(8):
            pixels = np.asarray(render("circle", colour, rng, size=32), dtype=np.float64).reshape(-1, 3)
            saturation = pixels.max(axis=1) - pixels.min(axis=1)
            means += pixels[saturation > 80].mean(axis=0)
        assert int(np.argmax(means)) == channel, colour


def test_render_errors() -> None:
    with pytest.raises(ConfigurationError, match="size"):
        render("circle", "red", 0, size=8)
    with pytest.raises(ConfigurationError, match="rng"):
        render("circle", "red", "seed", size=32)  # type: ignore[arg-type]
