"""Distributed indexing (store/distributed/) on a local Ray cluster (2 CPUs, 127.0.0.1) into a real
Chroma server.

The proof is a comparison: the same folder indexed locally (``index_folder``) and on Ray must give
the same ids, vectors, metadata and report, on a first run, on a rerun and after changes.
One Ray cluster serves the whole module.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siglip_retriever.cli import main
from siglip_retriever.errors import MissingDependencyError
from siglip_retriever.store import MultimodalStore
from siglip_retriever.store.indexing import IndexReport

BATCH = 4  # small batches: duplicates and failures fall across batch boundaries


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """A local Ray cluster of 2 CPUs on the loopback address, for this module."""
    import ray  # the test extra installs it (and its absence is tested below)

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=256 * 1024**2,
        log_to_driver=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


def _jpeg(colour: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Good pictures (one stored twice), and bad files: empty, text, truncated, a text twice."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    colours = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
    for n, colour in enumerate(colours):
        Image.new("RGB", (24 + 4 * n, 20 + 2 * n), colour).save(folder / f"{n:02d}-{colour}.png")
    (folder / "sub" / "photo.jpg").write_bytes(_jpeg("teal", (64, 48)))
    shutil.copy(folder / "01-green.png", folder / "sub" / "green-copy.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture at all")
    (folder / "sub" / "notes-again.jpg").write_text("not a picture at all")
    (folder / "truncated.jpg").write_bytes(_jpeg("navy", (80, 60))[:200])
    (folder / "sub" / "drawing.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
    )
    (folder / "IMG_0001.xmp").write_text("<x:xmpmeta/>")
    return folder


def _store(server: tuple[str, int], model: Path, name: str) -> MultimodalStore:
    host, port = server
    return MultimodalStore.connect(host, port, model=str(model), collection=name, batch_size=BATCH)


def _contents(store: MultimodalStore) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    got = store.collection.get(include=["embeddings", "metadatas", "uris"])
    order = np.argsort(got["ids"])
    ids = [got["ids"][n] for n in order]
    vectors = np.asarray(got["embeddings"], dtype=np.float32)[order]
    metas = [{**got["metadatas"][n], "_uri": got["uris"][n]} for n in order]
    return ids, vectors, metas


def _outcomes(report: IndexReport) -> dict[str, Any]:
    data = report.to_dict()
    keys = ("folder", "added", "updated", "skipped", "failed", "removed", "ignored", "refreshed")
    return {key: data[key] for key in keys}


def _assert_same(local: MultimodalStore, distributed: MultimodalStore) -> None:
    ids, vectors, metas = _contents(local)
    ray_ids, ray_vectors, ray_metas = _contents(distributed)
    assert ray_ids == ids
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-5)
    assert ray_metas == metas


def _change(folder: Path) -> None:
    """A picture edited, one touched, one moved, one deleted, one added."""
    Image.new("RGB", (30, 30), "pink").save(folder / "00-red.png")
    os.utime(folder / "02-blue.png", ns=(1_000_000_000, 1_000_000_000))
    (folder / "03-yellow.png").rename(folder / "sub" / "yellow-moved.png")
    (folder / "04-purple.png").unlink()
    Image.new("RGB", (40, 36), "brown").save(folder / "sub" / "new.png")


@pytest.mark.slow
def test_ray_indexing_equals_local_indexing(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    from siglip_retriever.store.distributed import index_distributed

    local = _store(chroma_server, tiny_siglip_dir, "local-first")
    distributed = _store(chroma_server, tiny_siglip_dir, "ray-first")
    expected = local.index_folder(photos)
    report = index_distributed(distributed, photos, num_workers=1)

    assert _outcomes(report) == _outcomes(expected)
    names = ["empty.jpg", "notes.jpg", "truncated.jpg", "notes-again.jpg"]
    assert [Path(f.path).name for f in report.failed] == names
    assert report.failed[0].reason == "empty file (zero bytes)"
    assert len(report.added) == 9
    assert [s.status for s in report.skipped] == ["duplicate"]
    assert report.ignored_by_extension() == {".xmp": 1, ".svg": 1}
    _assert_same(local, distributed)

    rerun = index_distributed(distributed, photos, num_workers=1)
    assert rerun.embedded == 0 and len(rerun.skipped) == 10
    assert _outcomes(rerun)["failed"] == _outcomes(expected)["failed"]
    _assert_same(local, distributed)

    _change(photos)
    expected = local.index_folder(photos, remove_missing=True)
    report = index_distributed(distributed, photos, num_workers=1, remove_missing=True)
    assert _outcomes(report) == _outcomes(expected)
    statuses = sorted(f.status for f in report.indexed)
    assert statuses.count("moved") == 1 and statuses.count("updated") == 1 and len(report.removed) == 1
    _assert_same(local, distributed)


def _add_copies(folder: Path) -> None:
    shutil.copy(folder / "02-blue.png", folder / "00a-blue-copy.png")  # sorts first: the primary
    shutil.copy(folder / "02-blue.png", folder / "sub" / "blue-copy.png")
    shutil.copy(folder / "01-green.png", folder / "zz-green.png")


def _move_and_delete_copies(folder: Path) -> None:
    (folder / "sub" / "green-copy.png").rename(folder / "sub" / "green-moved.png")
    (folder / "01-green.png").unlink()  # the primary of green's entry
    (folder / "02-blue.png").unlink()


def _overwrite_a_copy(folder: Path) -> None:
    Image.new("RGB", (26, 22), "pink").save(folder / "sub" / "blue-copy.png")


def _delete_the_last_copies(folder: Path) -> None:
    (folder / "zz-green.png").unlink()
    (folder / "sub" / "green-moved.png").unlink()


def _as_older_store(store: MultimodalStore) -> None:
    """Entries as version 2 wrote them: no fingerprint, date or paths."""
    for item in store.get(where={"kind": "image"}):
        old = {"phash": None, "taken": None, "paths": None, "facts": 2}
        store.collection.update(ids=[item.id], metadatas=[old])


@pytest.mark.slow
def test_ray_keeps_every_file_of_a_picture_as_local_indexing_does(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    """Copies added, moved and deleted between runs, and an older store completed: Ray and local
    indexing write the same entries, files (``paths``) and facts, and report the same."""
    from siglip_retriever.store.distributed import index_distributed
    from siglip_retriever.store.files import stored_files

    local = _store(chroma_server, tiny_siglip_dir, "local-copies")
    distributed = _store(chroma_server, tiny_siglip_dir, "ray-copies")
    steps = [None, _add_copies, _move_and_delete_copies, _overwrite_a_copy, _delete_the_last_copies]
    for step in steps:
        if step is not None:
            step(photos)
        expected = local.index_folder(photos, remove_missing=True)
        report = index_distributed(distributed, photos, num_workers=1, remove_missing=True)
        assert _outcomes(report) == _outcomes(expected), step
        _assert_same(local, distributed)
        if step is _add_copies:
            files = {
                item.id: [Path(f.path).name for f in stored_files(item.metadata)] for item in local.get()
            }
            assert ["00a-blue-copy.png", "02-blue.png", "blue-copy.png"] in files.values()
            assert ["01-green.png", "green-copy.png", "zz-green.png"] in files.values()
            assert report.embedded == 0
    for store in (local, distributed):
        _as_older_store(store)
    expected = local.index_folder(photos)
    report = index_distributed(distributed, photos, num_workers=1)
    assert report.refreshed == expected.refreshed == local.count(kind="image") and report.embedded == 0
    _assert_same(local, distributed)


@pytest.mark.slow
def test_cli_engine_ray_writes_what_local_indexing_writes(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    host, port = chroma_server
    common = ["-m", str(tiny_siglip_dir), "--host", host, "--port", str(port), "--batch-size", str(BATCH)]
    runner = CliRunner()
    ray_options = ["index", str(photos), "--engine", "ray", "--num-workers", "1", "--json"]
    ray_run = runner.invoke(main, [*common, "--collection", "cli-ray", *ray_options])
    assert ray_run.exit_code == 0, ray_run.output
    local_run = runner.invoke(main, [*common, "--collection", "cli-local", "index", str(photos), "--json"])
    assert local_run.exit_code == 0, local_run.output
    ray_report, local_report = json.loads(ray_run.output)[0], json.loads(local_run.output)[0]
    for key in ("added", "updated", "skipped", "failed"):
        assert ray_report[key] == local_report[key]
    assert ray_report["failed"]
    _assert_same(
        _store(chroma_server, tiny_siglip_dir, "cli-local"), _store(chroma_server, tiny_siglip_dir, "cli-ray")
    )


@pytest.mark.slow
def test_too_many_workers_for_the_cluster_is_a_clear_error(
    ray_local: Any, tiny_encoder: Any, photos: Path
) -> None:
    from siglip_retriever.errors import ConfigurationError
    from siglip_retriever.store.distributed import index_distributed

    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="leave no CPU for decoding"):
        index_distributed(store, photos, num_workers=2)
    assert store.count() == 0


def test_without_ray_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tiny_encoder: Any, photos: Path
) -> None:
    from siglip_retriever.store.distributed import index_distributed

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(MissingDependencyError, match=r"pip install 'siglip-retriever\[ray\]'") as error:
        index_distributed(store, photos)
    assert error.value.extra == "ray"
    assert store.count() == 0


def test_cli_without_ray_says_what_to_install_before_opening_a_store(tmp_path: Path, photos: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from click.testing import CliRunner\n"
        "from siglip_retriever.cli import main\n"
        f"r = CliRunner().invoke(main, ['--db', {str(tmp_path / 'db')!r}, 'index', '--engine', 'ray', "
        f"{str(photos)!r}])\n"
        "print(r.exit_code, 'torch' in sys.modules)\n"
        "print(r.output)\n"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    first, rest = result.stdout.split("\n", 1)
    assert first == "1 False", result.stdout + result.stderr
    assert "pip install 'siglip-retriever[ray]'" in rest
    assert not (tmp_path / "db").exists()


def test_bad_options_are_refused(tiny_encoder: Any, photos: Path) -> None:
    from siglip_retriever.errors import ConfigurationError
    from siglip_retriever.store.distributed import index_distributed

    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="num_workers"):
        index_distributed(store, photos, num_workers=0)
    with pytest.raises(ConfigurationError, match="not a folder"):
        index_distributed(store, photos / "00-red.png")


def test_a_file_changed_between_hashing_and_decoding_fails_with_its_reason(
    tiny_encoder: Any, photos: Path
) -> None:
    from siglip_retriever.store.distributed.stages import hash_files, prepare_files

    rows = {
        "row": np.array([0, 1]),
        "path": np.array([str(photos / "00-red.png"), str(photos / "empty.jpg")]),
    }
    hashed = hash_files(rows)
    assert hashed["key"][0].startswith("img-")
    assert hashed["failure"].tolist() == ["", "empty file (zero bytes)"]
    Image.new("RGB", (30, 30), "pink").save(photos / "00-red.png")  # changed after it was hashed
    prepared = prepare_files({**rows, "key": hashed["key"]}, tiny_encoder.image_preparer())
    assert prepared["failure"][0] == "file changed while it was being indexed; index again"
    assert prepared["prepared"][0] == b""


# Files on a pyarrow filesystem: file:// URIs and an explicit SubTreeFileSystem go through the
# generic filesystem code (listing, facts, reading in the tasks), not through os.path.


def _without_scheme(data: Any) -> Any:
    """``data`` with every ``file://`` prefix taken out: what local indexing would have written."""
    return json.loads(
        json.dumps(data).replace('"file://', '"').replace("same picture as file://", "same picture as ")
    )


def _assert_same_but_scheme(local: MultimodalStore, distributed: MultimodalStore) -> None:
    ids, vectors, metas = _contents(local)
    ray_ids, ray_vectors, ray_metas = _contents(distributed)
    assert ray_ids == ids
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-5)
    assert all(m["uri"].startswith("file:///") and m["_uri"] == m["uri"] for m in ray_metas)
    assert _without_scheme(ray_metas) == metas


@pytest.mark.slow
def test_file_uris_index_as_local_paths_and_rerun_through_the_cli(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    from siglip_retriever.store.distributed import index_distributed

    photos = photos.resolve()
    local = _store(chroma_server, tiny_siglip_dir, "uri-local")
    distributed = _store(chroma_server, tiny_siglip_dir, "uri-file")
    expected = local.index_folder(photos)
    report = index_distributed(distributed, f"file://{photos}/", num_workers=1)

    assert report.folder == f"file://{photos}"
    assert _without_scheme(_outcomes(report)) == _outcomes(expected)
    assert [f.path for f in report.failed][:2] == [f"file://{photos}/empty.jpg", f"file://{photos}/notes.jpg"]
    assert len(report.added) == 9 and len(report.failed) == 4
    _assert_same_but_scheme(local, distributed)

    # the same URI again, through the CLI: nothing embedded, nothing added. The undecodable files
    # go first, so that the rerun needs no model actor (it would only fail them again)
    for name in ("notes.jpg", "truncated.jpg", "sub/notes-again.jpg"):
        (photos / name).unlink()
    host, port = chroma_server
    options = ["-m", str(tiny_siglip_dir), "--host", host, "--port", str(port), "--batch-size", str(BATCH)]
    run = CliRunner().invoke(
        main,
        [*options, "--collection", "uri-file", "index", f"file://{photos}", "--engine", "ray", "--json"],
    )
    assert run.exit_code == 0, run.output
    [rerun] = json.loads(run.output)
    assert (len(rerun["added"]), len(rerun["updated"]), len(rerun["skipped"])) == (0, 0, 10)
    # the copy is one of its entry's files since the first run: unchanged like the others
    assert sorted(s["status"] for s in rerun["skipped"]) == ["unchanged"] * 10
    assert rerun["failed"] == [{"path": f"file://{photos}/empty.jpg", "reason": "empty file (zero bytes)"}]
    _assert_same_but_scheme(local, distributed)


@pytest.mark.slow
def test_an_explicit_subtree_filesystem_indexes_as_local_paths(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    from pyarrow.fs import LocalFileSystem, SubTreeFileSystem

    from siglip_retriever.store.distributed import index_distributed

    photos = photos.resolve()
    subtree = SubTreeFileSystem(str(photos.parent), LocalFileSystem())
    local = _store(chroma_server, tiny_siglip_dir, "subtree-local")
    distributed = _store(chroma_server, tiny_siglip_dir, "subtree-ray")
    expected = local.index_folder(photos)
    report = index_distributed(distributed, "photos", filesystem=subtree, num_workers=1)
    assert _without_scheme(_outcomes(report)) == _outcomes(expected)
    assert report.added[0].path == f"file://{photos}/00-red.png"
    _assert_same_but_scheme(local, distributed)

    # a picture moved, one deleted: the same outcome as local indexing (the undecodable files go
    # first, so that this run needs no model actor)
    for name in ("notes.jpg", "truncated.jpg", "sub/notes-again.jpg", "04-purple.png"):
        (photos / name).unlink()
    (photos / "03-yellow.png").rename(photos / "sub" / "yellow-moved.png")
    expected = local.index_folder(photos, remove_missing=True)
    report = index_distributed(distributed, "photos", filesystem=subtree, num_workers=1, remove_missing=True)
    assert _without_scheme(_outcomes(report)) == _outcomes(expected)
    assert [f.status for f in report.indexed].count("moved") == 1 and report.embedded == 0
    assert report.removed == [f"file://{photos}/04-purple.png"]
    _assert_same_but_scheme(local, distributed)


def test_filesystem_files_that_cannot_be_read_are_reported_with_their_uri(
    tiny_encoder: Any, photos: Path
) -> None:
    from pyarrow.fs import LocalFileSystem, SubTreeFileSystem

    from siglip_retriever.errors import ConfigurationError
    from siglip_retriever.store.distributed import index_distributed
    from siglip_retriever.store.distributed.stages import hash_files

    photos = photos.resolve()
    subtree = SubTreeFileSystem(str(photos), LocalFileSystem())
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    report = index_distributed(store, ["gone.png", "sub"], filesystem=subtree)  # nothing to read: no Ray
    assert [(f.path, f.reason) for f in report.failed] == [
        (f"file://{photos}/gone.png", "cannot read file: No such file or directory"),
        (f"file://{photos}/sub", "cannot read file: not a file"),
    ]
    rows = {
        "row": np.array([0, 1]),
        "uri": np.array(["u0", "u1"]),
        "path": np.array(["gone.png", "empty.jpg"]),
    }
    failures = hash_files(rows, filesystem=subtree)["failure"].tolist()
    assert failures[0].startswith("cannot read file: ") and "gone.png" in failures[0]
    assert failures[1] == "empty file (zero bytes)"
    with pytest.raises(ConfigurationError, match="neither a folder nor a file"):
        index_distributed(store, f"file://{photos}/nothing-here")
    with pytest.raises(ConfigurationError, match=r"pyarrow\.fs\.FileSystem"):
        index_distributed(store, "photos", filesystem="not a filesystem")
    assert store.count() == 0


def test_a_listing_leaves_out_the_store_inside_the_folder(tiny_encoder: Any, photos: Path) -> None:
    """A ``file://`` folder holding the store's own folder: Ray's listing leaves it out, unreported."""
    from siglip_retriever.store.distributed.filesystems import resolve_source

    photos = photos.resolve()
    with MultimodalStore(photos / "siglip-store", encoder=tiny_encoder) as store:
        Image.new("RGB", (20, 20), "green").save(photos / "siglip-store" / "not-mine.png")
        source = resolve_source(f"file://{photos}")
        assert source is not None
        everything, _, ignored_all, _ = source.scan()
        files, failed, ignored, scanned = source.scan(skip=store.path)
    inside = f"file://{photos}/siglip-store/"
    assert any(f.path.startswith(inside) for f in everything)  # listed without skip
    assert any(i.path.startswith(inside) for i in ignored_all)
    assert scanned and not failed
    assert [f.path for f in files] == [f.path for f in everything if not f.path.startswith(inside)]
    assert [i.path for i in ignored] == [i.path for i in ignored_all if not i.path.startswith(inside)]
    assert files[0].source == str(photos / "00-red.png")  # read on the filesystem at its own path


@pytest.mark.slow
def test_ray_lists_pdfs_and_videos_as_left_to_the_local_engine(
    ray_local: Any, chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path
) -> None:
    from siglip_retriever.store.distributed import index_distributed
    from siglip_retriever.store.distributed.indexer import PDFS_LOCAL, VIDEOS_LOCAL
    from tests.documents import write_text_pdf
    from tests.videos import H264_SCENES, write_shape_clip

    write_text_pdf(photos / "report.pdf")
    write_shape_clip(photos / "clip.mp4", H264_SCENES[:2])
    store = _store(chroma_server, tiny_siglip_dir, "ray-pdfs")
    report = index_distributed(store, photos, num_workers=1, remove_missing=True)
    assert [(Path(i.path).name, i.reason) for i in report.ignored if i.path.endswith((".pdf", ".mp4"))] == [
        ("clip.mp4", VIDEOS_LOCAL),
        ("report.pdf", PDFS_LOCAL),
    ]
    assert report.ocr == "off" and not any("report.pdf" in item.path for item in report.indexed)
    local = store.index_folder(photos, ocr="off")  # the local engine indexes it, and Ray keeps it
    assert len([item for item in local.added if "report.pdf" in item.path]) == 7
    assert len([item for item in local.added if "clip.mp4" in item.path]) == 2
    count = store.count()
    again = index_distributed(store, photos, num_workers=1, remove_missing=True)
    assert again.removed == [] and store.count() == count  # the PDF's and the video's entries stay
