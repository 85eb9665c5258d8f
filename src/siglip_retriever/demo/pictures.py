"""Pictures of the demo data: one coloured shape on a neutral background, drawn from a seed.

Size, position, rotation, the exact hue, the background (plain, gradient, stripes, checks or
blotches in neutral tints) and pixel noise vary from picture to picture, all drawn from the
random generator passed in: the same generator state gives the same picture. Only numpy and
Pillow are used; no torch.

Example:
    >>> import numpy as np
    >>> from siglip_retriever.demo.pictures import render
    >>> render("square", "blue", np.random.default_rng(0), size=48).size
    (48, 48)
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from siglip_retriever.demo.captions import COLOURS, NEW_COLOURS, check_class
from siglip_retriever.errors import ConfigurationError

__all__ = ["render", "render_new_colour"]

# hue centre (degrees), hue jitter, value range
_HUES: dict[str, tuple[float, float, tuple[float, float]]] = {
    "red": (0.0, 7.0, (0.7, 1.0)),
    "orange": (28.0, 5.0, (0.88, 1.0)),
    "yellow": (55.0, 5.0, (0.85, 1.0)),
    "green": (122.0, 18.0, (0.5, 0.95)),
    "blue": (222.0, 14.0, (0.6, 1.0)),
    "purple": (282.0, 12.0, (0.5, 0.95)),
    "cyan": (182.0, 8.0, (0.6, 1.0)),  # a NEW_COLOURS colour: far from green's and blue's hues
}
_BACKGROUNDS = ("plain", "gradient", "stripes", "checks", "blotches")
_SUPERSAMPLE = 4


def _shape_rgb(colour: str, rng: np.random.Generator) -> np.ndarray:
    centre, jitter, (low, high) = _HUES[colour]
    hue = ((centre + rng.uniform(-jitter, jitter)) % 360.0) / 360.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(low, high))
    return np.array(rgb, dtype=np.float32)


def _neutral(rng: np.random.Generator, level: float) -> np.ndarray:
    """A grey of brightness ``level``, faintly tinted."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.12), level)
    return np.array(rgb, dtype=np.float32)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    kind = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    first = _neutral(rng, rng.uniform(0.05, 1.0))
    second = _neutral(rng, float(np.clip(rng.normal(0.5, 0.3), 0.0, 1.0)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "plain":
        weight = np.zeros((size, size), dtype=np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        weight = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(0.08, 0.25)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        weight = ((proj / period) % 1.0 < 0.5).astype(np.float32) * rng.uniform(0.2, 0.6)
    elif kind == "checks":
        cells = int(rng.integers(3, 9))
        weight = ((np.floor(xx * cells) + np.floor(yy * cells)) % 2).astype(np.float32) * rng.uniform(
            0.2, 0.6
        )
    else:  # blotches: smooth low-frequency noise
        coarse = rng.uniform(0, 255, size=(4, 4)).astype(np.uint8)
        smooth = Image.fromarray(coarse, mode="L").resize((size, size), Image.Resampling.BICUBIC)
        weight = np.asarray(smooth, dtype=np.float32) / 255.0
    weight = weight[..., None]
    return first * (1.0 - weight) + second * weight


def _outline(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices of a square, triangle or five-pointed star."""
    if shape == "square":
        half = radius * 0.8
        corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    elif shape == "triangle":
        corners = [
            (radius * np.cos(a), radius * np.sin(a))
            for a in (-np.pi / 2 + k * 2 * np.pi / 3 for k in range(3))
        ]
    else:  # star
        inner = radius * 0.45
        corners = [
            ((radius if k % 2 == 0 else inner) * np.cos(a), (radius if k % 2 == 0 else inner) * np.sin(a))
            for k, a in enumerate(-np.pi / 2 + k * np.pi / 5 for k in range(10))
        ]
    cos, sin = np.cos(angle), np.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners]


def _shape_mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """An anti-aliased coverage mask (0..1) of one shape at a random size, place and angle."""
    big = size * _SUPERSAMPLE
    radius = rng.uniform(0.22, 0.42) * big
    margin = radius * 1.02
    cx, cy = rng.uniform(margin, big - margin, size=2)
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "circle":
        r = radius * 0.9
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    else:
        spread = {"square": np.pi / 15, "triangle": np.pi / 6, "star": np.pi / 5}[shape]
        draw.polygon(_outline(shape, cx, cy, radius, rng.uniform(-spread, spread)), fill=255)
    small = mask.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)[..., None] / 255.0


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ConfigurationError(f"rng must be a numpy Generator, an int seed or None, not {type(rng).__name__}")


def render(
    shape: str, colour: str, rng: np.random.Generator | int | None = None, size: int = 64
) -> Image.Image:
    """Draw one ``colour`` ``shape`` on a random neutral background, with pixel noise.

    Args:
        shape: one of :data:`SHAPES`.
        colour: one of :data:`COLOURS`.
        rng: the random generator that decides size, position, angle, hue, background and
            noise (or an int seed). The same generator state gives the same picture.
        size: the side of the square picture in pixels (at least 16).

    Returns:
        An RGB PIL image of ``size`` x ``size`` pixels.

    Raises:
        ConfigurationError: an unknown shape or colour, a bad ``rng`` or a ``size`` below 16.

    Example:
        >>> import numpy as np
        >>> image = render("star", "red", np.random.default_rng(7), size=32)
        >>> image.mode, image.size
        ('RGB', (32, 32))
    """
    check_class(shape, colour)
    return _render(shape, colour, _as_rng(rng), size)


def render_new_colour(
    shape: str, colour: str, rng: np.random.Generator | int | None = None, size: int = 64
) -> Image.Image:
    """Draw a ``shape`` in a colour of :data:`~siglip_retriever.demo.captions.NEW_COLOURS` (or
    one of the demo's own) as :func:`render` draws the demo's pictures.

    Raises:
        ConfigurationError: an unknown shape or colour, a bad ``rng`` or a bad size.

    Example:
        >>> render_new_colour("star", "cyan", 3, size=32).size
        (32, 32)
    """
    check_class(shape, COLOURS[0])
    if colour not in NEW_COLOURS + COLOURS:
        known = ", ".join(NEW_COLOURS + COLOURS)
        raise ConfigurationError(f"unknown colour {colour!r}; choose one of {known}")
    return _render(shape, colour, _as_rng(rng), size)


def _render(shape: str, colour: str, generator: np.random.Generator, size: int) -> Image.Image:
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ConfigurationError(f"size must be an integer of at least 16 pixels, not {size!r}")
    size = int(size)
    background = _background(size, generator)
    mask = _shape_mask(shape, size, generator)
    fill = _shape_rgb(colour, generator)
    # a faint light gradient across the shape, so it is not perfectly flat
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = 1.0 + generator.uniform(-0.08, 0.08) * (xx - 0.5) + generator.uniform(-0.08, 0.08) * (yy - 0.5)
    picture = background * (1.0 - mask) + np.clip(fill * light[..., None], 0.0, 1.0) * mask
    noise = generator.normal(0.0, generator.uniform(0.0, 0.05), size=picture.shape).astype(np.float32)
    pixels = np.clip((picture + noise) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")
