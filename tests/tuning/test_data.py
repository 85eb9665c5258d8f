"""Fine-tuning's pairs (tuning/data.py): every bad line reported with its number, unreadable
pictures skipped with their reason, the split by picture, batches from the seed and the step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.tuning.config import FinetuneConfig
from siglip_retriever.tuning.data import augment, batch_for_step, read_pairs, split_by_image
from tests.helpers import colour_pictures


def _folder(root: Path) -> Path:
    colour_pictures(root, ("red", "green", "blue", "yellow"), size=(24, 20))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "pairs.csv").write_text(
        "image,caption,language,rating\n"
        "red.png,a red square,en,5\n"
        ",a green square,en,\n"
        "green.png,  ,en,\n"
        "nowhere.png,a lost square,en,\n"
        "blue.png,a blue square,en,\n"
    )
    with pytest.raises(ConfigurationError) as raised:
        read_pairs(folder / "pairs.csv", image_size=16)
    message = str(raised.value)
    assert message.startswith("4 problem(s) in the pairs file:")
    assert "unknown column(s) 'rating'" in message
    assert "pairs.csv:3: no image path" in message
    assert "pairs.csv:4: the caption is empty" in message
    assert "pairs.csv:5: the image nowhere.png does not exist" in message


def test_unreadable_pictures_are_skipped_with_their_reason(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    lines = [
        {"image": "red.png", "caption": "a red square"},
        {"image": "broken.png", "caption": "a broken file", "lang": "en"},
        {"image": "red.png", "caption": "un carré rouge", "lang": "fr"},
        {"image": "green.png", "caption": "a green square"},
    ]
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    data = read_pairs(folder / "pairs.jsonl", image_size=16)
    assert [Path(p).name for p in data.images] == ["red.png", "green.png"]
    assert [(p.image, p.caption, p.line) for p in data.pairs] == [
        (0, "a red square", 1),
        (0, "un carré rouge", 3),
        (1, "a green square", 4),
    ]
    ((path, reason),) = data.skipped
    assert Path(path).name == "broken.png" and "corrupt" in reason
    assert data.languages == ["fr", "und"]


def test_nothing_readable_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"no picture")
    (tmp_path / "pairs.csv").write_text("image,caption\nbroken.png,a caption\n")
    with pytest.raises(ConfigurationError, match=r"no picture named in .* could be read"):
        read_pairs(tmp_path / "pairs.csv", image_size=16)
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_pairs(tmp_path / "none.csv", image_size=16)


def test_the_split_is_by_picture_and_follows_the_seed(tmp_path: Path) -> None:
    colour_pictures(tmp_path, [(i * 20, 0, 0) for i in range(10)], name="{i}.png")
    rows = [f"{i}.png,picture {i},en" for i in range(10)] + [f"{i}.png,bild {i},de" for i in range(10)]
    (tmp_path / "pairs.csv").write_text("image,caption,language\n" + "\n".join(rows) + "\n")
    data = read_pairs(tmp_path / "pairs.csv", image_size=16)
    train, held = split_by_image(data, 0.2, seed=3)
    assert (len(train.images), len(held.images)) == (8, 2)
    assert not set(train.images) & set(held.images)
    assert len(held.pairs) == 4 and {p.language for p in held.pairs} == {"en", "de"}
    again, _ = split_by_image(data, 0.2, seed=3)
    assert again.images == train.images
    with pytest.raises(ConfigurationError, match="too few"):
        split_by_image(data.subset([0, 1]), 0.2, seed=0)


def test_batches_come_from_the_seed_and_step_and_identical_captions_are_positives(tmp_path: Path) -> None:
    colour_pictures(tmp_path, ["red", "green", "blue", "yellow", "white", "black"])
    captions = ["a red thing", "a red thing", "a blue thing", "a blue thing", "white", "black"]
    rows = [
        f"{name}.png,{text}"
        for name, text in zip(["red", "green", "blue", "yellow", "white", "black"], captions, strict=True)
    ]
    (tmp_path / "pairs.csv").write_text("image,caption\n" + "\n".join(rows) + "\n")
    data = read_pairs(tmp_path / "pairs.csv", image_size=16)
    options = {"batch_size": 6, "seed": 4, "crop_scale": 0.8, "flip": False}
    batch, same = batch_for_step(data, 7, **options), batch_for_step(data, 7, **options)
    assert (batch.images, batch.captions, batch.crops) == (same.images, same.captions, same.crops)
    assert np.array_equal(batch.positives, same.positives)
    assert sorted(batch.images) == list(range(6))
    for i, image in enumerate(batch.images):
        for j, text in enumerate(batch.captions):
            assert batch.positives[i, j] == (captions[image] == text), (image, text)
    assert batch_for_step(data, 8, **options).crops != batch.crops  # another step, other draws
    for crop, flipped in batch.crops:
        left, top, right, bottom = crop
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1 and not flipped
        assert (right - left) * (bottom - top) >= 0.8 * 0.74  # area share, minus the aspect clamp
    picture = Image.new("RGB", (100, 50), "red")
    assert augment(picture, ((0.0, 0.0, 0.5, 1.0), True)).size == (50, 50)


def test_the_config_refuses_what_cannot_work() -> None:
    for bad in ({"train": "some"}, {"steps": 0}, {"held_out": 1.0}, {"crop_scale": 0}, {"learning_rate": 0}):
        with pytest.raises(ConfigurationError):
            FinetuneConfig(**bad)  # type: ignore[arg-type]
    assert FinetuneConfig(batch_size=8, epochs=2, min_steps=1).total_steps(20) == 6
    assert FinetuneConfig(batch_size=8, epochs=2).total_steps(20) == 400  # small sets: min_steps
    assert FinetuneConfig(batch_size=8, epochs=2, min_steps=10).total_steps(1000) == 250
    assert FinetuneConfig(steps=5).total_steps(1000) == 5
