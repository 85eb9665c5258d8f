"""The synthetic multilingual shapes data sets (demo/data.py): determinism, contents, image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.demo.data import CLASSES, caption, generate_dataset, write_image_folder
from siglip_retriever.errors import ConfigurationError


def test_generate_dataset_is_deterministic() -> None:
    first = generate_dataset(30, seed=11, size=32)
    again = generate_dataset(30, seed=11, size=32)
    other = generate_dataset(30, seed=12, size=32)
    assert [(s.shape, s.colour, s.lang, s.caption) for s in first] == [
        (s.shape, s.colour, s.lang, s.caption) for s in again
    ]
    assert all(
        np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(first, again, strict=True)
    )
    assert [s.caption for s in first] != [s.caption for s in other]


def test_generate_dataset_contents() -> None:
    samples = generate_dataset(48, seed=0, size=24)
    assert len(samples) == 48
    # balanced: every class twice
    assert sorted(s.label for s in samples) == sorted(list(range(len(CLASSES))) * 2)
    for sample in samples:
        assert sample.image.mode == "RGB"
        assert sample.image.size == (24, 24)
        assert sample.caption == caption(sample.shape, sample.colour, sample.lang, sample.template)
        assert CLASSES[sample.label] == (sample.shape, sample.colour)
    assert len({s.lang for s in samples}) >= 5
    assert generate_dataset(0) == []
    only = generate_dataset(10, seed=0, size=16, languages=["ar"])
    assert {s.lang for s in only} == {"ar"}


def test_generate_dataset_errors() -> None:
    with pytest.raises(ConfigurationError):
        generate_dataset(-1)
    with pytest.raises(ConfigurationError, match="unknown language"):
        generate_dataset(2, languages=["en", "xx"])
    with pytest.raises(ConfigurationError, match="empty"):
        generate_dataset(2, languages=[])


def test_write_image_folder(tmp_path: Path) -> None:
    written = write_image_folder(tmp_path / "pictures", per_class=2, seed=3, size=40)
    assert len(written) == 2 * len(CLASSES)
    names = sorted(path.name for path, _, _ in written)
    assert names == sorted(p.name for p in (tmp_path / "pictures").iterdir())
    assert "red_circle_001.png" in names
    assert "purple_star_000.png" in names
    for path, shape, colour in written:
        assert path.name.startswith(f"{colour}_{shape}_")
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.mode == "RGB"
            assert image.size == (40, 40)
    again = write_image_folder(tmp_path / "again", per_class=2, seed=3, size=40)
    assert all(a.read_bytes() == b.read_bytes() for (a, _, _), (b, _, _) in zip(written, again, strict=True))
    with pytest.raises(ConfigurationError):
        write_image_folder(tmp_path / "bad", per_class=-1)
