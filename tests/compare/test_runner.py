"""The comparison end to end (compare/runner.py): tiny SigLIP and tiny CLIP checkpoints on generated data,
in child processes and in this one, every output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.compare import ComparisonResult, compare_models, load_classes, load_pairs
from siglip_retriever.compare.metrics import retrieval_scores
from tests.helpers import compare_in_process, comparison_data

pytestmark = pytest.mark.slow  # the module's comparison runs two models in child processes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return comparison_data(tmp_path_factory.mktemp("compare-data"))


@pytest.fixture(scope="module")
def isolated(data: dict[str, Path], tiny_siglip_dir: Path, tiny_clip_dir: Path) -> ComparisonResult:
    """Both tiny models, each in its own child process, on the pairs and the class folders."""
    lines: list[str] = []
    result = compare_models(
        [f"siglip={tiny_siglip_dir}", f"clip={tiny_clip_dir}"],
        pairs=data["pairs"],
        classes=data["classes"],
        device="cpu",
        batch_size=8,
        isolate=True,
        progress=lines.append,
    )
    assert len(lines) == 4 and "child process" in lines[0]
    return result


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width > 400 and image.height > 300
        image.verify()


def test_end_to_end_in_child_processes_measures_every_model(isolated: ComparisonResult) -> None:
    assert [m.name for m in isolated.models] == ["siglip", "clip"]
    assert [(m.family, m.score_kind) for m in isolated.models] == [("siglip", "sigmoid"), ("clip", "softmax")]
    assert isolated.pairs is not None
    assert (isolated.pairs["images"], isolated.pairs["captions"]) == (12, 24)
    assert isolated.pairs["languages"] == ["en", "fr"]
    assert isolated.classes is not None and isolated.classes["classes"] == 4
    assert isolated.memory_method == "child-process ru_maxrss"
    for model in isolated.models:
        # the pairs and the class folders share their 12 files: each is encoded once
        assert (model.images, model.texts) == (12, 24 + 4 * 2)
        assert model.load_seconds is not None and model.load_seconds > 0
        assert model.images_per_second is not None and model.images_per_second > 0
        assert model.texts_per_second is not None and model.texts_per_second > 0
        assert model.peak_memory_mb is not None and model.peak_memory_mb > 0
        assert model.dim == 32 and model.device == "cpu"
        retrieval = model.retrieval or {}
        assert list(retrieval) == ["overall", "en", "fr"]
        for scope in retrieval.values():
            for direction in ("text_to_image", "image_to_text"):
                values = [scope[direction][f"R@{k}"] for k in (1, 5, 10)]
                assert all(0.0 <= v <= 1.0 for v in values)
                assert values == sorted(values)  # recall grows with k
        assert retrieval["en"]["captions"] == 12 and retrieval["overall"]["captions"] == 24
        zero_shot = model.zero_shot or {}
        assert list(zero_shot) == ["overall", "en", "fr"]
        assert zero_shot["overall"] == pytest.approx((zero_shot["en"] + zero_shot["fr"]) / 2)


def test_child_process_scores_match_a_direct_computation(
    isolated: ComparisonResult, data: dict[str, Path], tiny_siglip_dir: Path
) -> None:
    """The runner wires every caption to its image: recompute SigLIP's recalls in this process."""
    from siglip_retriever.encoding.encoder import SiglipEncoder

    pairs = load_pairs(data["pairs"])
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu")
    similarity = encoder.encode_texts(pairs.captions) @ encoder.encode_images(pairs.images).T
    expected = retrieval_scores(similarity, pairs.caption_image, pairs.caption_language)
    got = isolated.models[0].retrieval or {}
    for scope, scores in expected.items():
        for direction in ("text_to_image", "image_to_text"):
            assert got[scope][direction] == pytest.approx(scores[direction]), (scope, direction)
    # zero-shot: the label vectors of one name each, top-1 by hand
    classes = load_classes(data["classes"])
    images = encoder.encode_images(classes.images)
    labels = encoder.encode_texts([names[0] for names in classes.label_names["fr"]])
    predicted = np.argmax(images @ labels.T, axis=1)
    accuracy = float(np.mean(predicted == np.asarray(classes.image_class)))
    assert (isolated.models[0].zero_shot or {})["fr"] == pytest.approx(accuracy)


def test_every_output_format_is_written(isolated: ComparisonResult, tmp_path: Path) -> None:
    written = isolated.write(tmp_path / "out", ["table", "md", "json", "csv", "png"])
    assert {name: path.name for name, path in written.items()} == {
        "table": "comparison.txt",
        "md": "comparison.md",
        "json": "comparison.json",
        "csv": "comparison.csv",
        "png": "comparison.png",
    }
    table = written["table"].read_text(encoding="utf-8")
    assert "Load time, speed and peak memory" in table and "siglip" in table and "softmax" in table
    markdown = written["md"].read_text(encoding="utf-8")
    assert markdown.startswith("## Model comparison")
    assert "| model | overall | en | fr |" in markdown
    assert "child-process ru_maxrss" in markdown
    data = json.loads(written["json"].read_text(encoding="utf-8"))
    assert data == isolated.to_dict()
    assert data["models"][1]["retrieval"]["fr"]["image_to_text"]["R@5"] is not None
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8"))))
    # per model: 4 speed rows + 3 scopes x 2 directions x 3 k + 3 zero-shot rows
    assert len(rows) == 2 * (4 + 18 + 3)
    assert {row["task"] for row in rows} == {"speed", "text_to_image", "image_to_text", "zero_shot"}
    siglip_fr = next(
        r for r in rows if r["model"] == "siglip" and r["task"] == "zero_shot" and r["language"] == "fr"
    )
    assert float(siglip_fr["value"]) == pytest.approx((isolated.models[0].zero_shot or {})["fr"], abs=1e-5)
    _check_png(written["png"])


def test_cli_compare_in_process_agrees_with_the_child_processes(
    isolated: ComparisonResult,
    data: dict[str, Path],
    tiny_siglip_dir: Path,
    tiny_clip_dir: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    result = compare_in_process(
        f"siglip={tiny_siglip_dir},clip={tiny_clip_dir}",
        out,
        "table,md,json,csv,png",
        *("--pairs", str(data["jsonl"]), "--classes", str(data["classes"])),
    )
    assert result.exit_code == 0, result.output
    assert "Retrieval, all languages: Recall@k in % (12 images, 24 captions)" in result.stdout
    assert "Zero-shot top-1 accuracy by label language" in result.stdout
    assert "[1/2] siglip: loading" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv",
        "comparison.json",
        "comparison.md",
        "comparison.png",
    ]
    _check_png(out / "comparison.png")
    report = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert report["memory_method"] == "sampled RSS (in-process)"
    for got, expected in zip(report["models"], isolated.models, strict=True):
        assert got["retrieval"].keys() == (expected.retrieval or {}).keys()
        for scope, scores in (expected.retrieval or {}).items():
            assert got["retrieval"][scope]["text_to_image"] == pytest.approx(scores["text_to_image"])
            assert got["retrieval"][scope]["image_to_text"] == pytest.approx(scores["image_to_text"])
        assert got["zero_shot"] == pytest.approx(expected.zero_shot)
