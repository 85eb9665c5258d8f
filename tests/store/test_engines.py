"""One entry point for both indexing engines (store/engines.py): index_paths and check_engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.errors import ConfigurationError, MissingDependencyError
from siglip_retriever.store.engines import ENGINES, check_engine, index_paths


def _photos(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (32, 32), "red").save(folder / "red.png")
    Image.new("RGB", (32, 32), "green").save(folder / "sub" / "green.png")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def test_local_engine_indexes_folders_and_single_files(
    tiny_encoder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # the local engine never imports Ray
    photos = _photos(tmp_path / "photos")
    single = tmp_path / "blue.picture"  # a single file is indexed whatever its extension
    Image.new("RGB", (32, 32), "blue").save(single, format="PNG")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    seen: list[tuple[Any, Any]] = []

    reports = index_paths(store, [photos, single], recursive=False, on_report=lambda *done: seen.append(done))

    assert [path for path, _ in seen] == [photos, single]
    assert [report for _, report in seen] == reports
    folder, file = reports
    assert [Path(f.path).name for f in folder.added] == ["red.png"]  # not recursive: no sub/green.png
    assert [Path(f.path).name for f in folder.failed] == ["broken.jpg"]
    assert [Path(f.path).name for f in file.added] == ["blue.picture"]
    assert store.count("image") == 2

    again = index_paths(store, [str(photos), single], remove_missing=True)  # str paths work too
    assert [Path(f.path).name for f in again[0].added] == ["green.png"]
    assert [Path(f.path).name for f in again[0].skipped] == ["red.png"]
    assert [f.status for f in again[1].skipped] == ["unchanged"]
    assert store.count("image") == 3


def test_the_local_engine_refuses_uris_before_writing(tiny_encoder: Any, tmp_path: Path) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    photos = _photos(tmp_path / "photos")
    with pytest.raises(ConfigurationError, match=r"s3://bucket/photos is a URI; URIs need engine='ray'"):
        index_paths(store, [photos, "s3://bucket/photos"])
    assert store.count() == 0
    with pytest.raises(ConfigurationError, match="URIs need --engine ray"):
        check_engine("local", ["file:///data"], ray_option="--engine ray")
    check_engine("local", [photos, str(photos)])  # local paths are fine
    with pytest.raises(ConfigurationError, match="engine must be one of local, ray"):
        check_engine("spark", [photos])
    assert ENGINES == ("local", "ray")


def test_the_ray_engine_without_ray_names_the_extra_before_writing(
    tiny_encoder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(MissingDependencyError, match=r"pip install 'siglip-retriever\[ray\]'"):
        index_paths(store, [_photos(tmp_path / "photos")], engine="ray")
    assert store.count() == 0
    with pytest.raises(MissingDependencyError, match=r"^--engine ray needs the 'ray' package"):
        check_engine("ray", ["s3://bucket/photos"], ray_option="--engine ray")
