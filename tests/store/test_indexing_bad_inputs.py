"""A folder of bad and odd files beside good ones (tests/store/bad_inputs.py): every good image is
indexed, every bad one is in the report with its reason, nothing crashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import load_image
from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.indexing import file_uri
from tests.store.bad_inputs import Case, build_corpus, unreadable_file

# Pillow warns about images just over its limit before the loader refuses them: expected here
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return build_corpus(tmp_path_factory.mktemp("corpus") / "photos")


def _expected(cases: list[Case], expect: str) -> dict[str, Case]:
    """The cases with this outcome, by the path the report names them with."""
    return {_report_path(c): c for c in cases if c.expect == expect}


def _report_path(case: Case) -> str:
    """The path a failure is reported under: symbolic links are named as links, not resolved."""
    if case.path.is_symlink():
        return file_uri(case.path.parent) + os.sep + case.path.name
    return file_uri(case.path)


def test_corpus_covers_the_issue(corpus: list[Case]) -> None:
    names = {c.name for c in corpus}
    for wanted in [
        "zero_bytes.jpg",
        "truncated.jpg",
        "truncated.png",
        "text.jpg",
        "page.jpg",
        "bomb.png",
        "cmyk.jpg",
        "sixteen_bit.png",
        "palette_transparent.png",
        "animated.gif",
        "exif_rotated.jpg",
        "one_pixel.png",
        "wide_20000x50.png",
        "vector.svg",
        "dangling.jpg",
        os.fsdecode(b"caf\xe9.png"),
    ]:
        assert wanted in names, wanted
    assert sum(c.expect == "indexed" for c in corpus) >= 25
    assert sum(c.expect == "failed" for c in corpus) >= 20


def test_loader_on_every_case(corpus: list[Case]) -> None:
    for case in corpus:
        if case.expect == "ignored":
            continue
        if case.expect == "indexed":
            image = load_image(case.path)
            assert image.mode == "RGB", case.name
            assert image.size == case.size, case.name
        else:
            with pytest.raises(ImageLoadError) as info:
                load_image(case.path)
            assert info.value.reason, case.name
            if case.reason and not case.path.is_symlink():  # links: "file not found" from the loader
                assert case.reason in info.value.reason, (case.name, info.value.reason)


def test_index_folder_indexes_every_good_image_and_reports_every_bad_one(
    tiny_encoder: SiglipEncoder, corpus: list[Case], tmp_path: Path
) -> None:
    folder = corpus[0].path.parent
    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    report = store.index_folder(folder)

    good = _expected(corpus, "indexed")
    added = {entry.path: entry for entry in report.added}
    assert set(added) == set(good)
    bad = _expected(corpus, "failed")
    failed = {entry.path: entry.reason for entry in report.failed}
    assert set(failed) == set(bad)
    for path, case in bad.items():
        assert case.reason in failed[path], (case.name, failed[path])
    assert not report.updated and not report.skipped
    assert store.count("image") == len(good)

    # what the store holds for each good file: its name (non-UTF-8 bytes escaped) and its size
    for item in store.get(ids=[entry.id for entry in report.added]):
        case = good[item.metadata["uri"]]
        assert (item.metadata["width"], item.metadata["height"]) == case.size, case.name

    # the report is valid JSON, names and reasons included
    report.write(tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(data["failed"]) == len(bad)
    assert any("caf\\xe9.png" in entry["path"] for entry in data["added"])

    # a second run embeds nothing and reports the same failures
    again = store.index_folder(folder, remove_missing=True)
    assert not again.added and not again.removed
    assert {entry.path for entry in again.skipped} == set(good)
    assert {entry.path: entry.reason for entry in again.failed} == failed


def test_unreadable_file_is_reported(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: root reads files whatever their permissions")
    folder = tmp_path / "photos"
    folder.mkdir()
    path = unreadable_file(folder)
    with pytest.raises(ImageLoadError, match="permission denied"):
        load_image(path)
    report = MultimodalStore(tmp_path / "db", encoder=tiny_encoder).index_folder(folder)
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("unreadable.png", "cannot read file: Permission denied")
    ]
