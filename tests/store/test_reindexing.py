"""A model change without downtime (store/reindexing.py, store/live.py): a store built again with
another model beside the live collection, swapped in one write, rolled back, the previous one
dropped, an interrupted run resumed; on real embedded chromadb with tiny checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, ModelMismatchError, StoreError
from siglip_retriever.tiny import build_checkpoint
from tests.helpers import run_cli
from tests.search.wordy import words


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    root = tmp_path_factory.mktemp("models")
    return tuple(str(build_checkpoint(root / name, seed=seed)) for seed, name in enumerate("abc"))  # type: ignore[return-value]


def _pictures(folder: Path, count: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        Image.new("RGB", (40, 32), (40 * n, 255 - 30 * n, 90)).save(folder / f"p{n}.png")
    return folder


def _store(path: Path, model: str | None = None) -> MultimodalStore:
    return MultimodalStore(path, model=model)


def test_reindex_builds_beside_and_swaps(models: tuple[str, str, str], tmp_path: Path) -> None:
    a, b, _ = models
    folder = _pictures(tmp_path / "pictures")
    store = _store(tmp_path / "db", a)
    store.index_folder(folder, ocr="off")
    texts = store.add_texts(["a red square", "un carré rouge"], metadatas=[{"lang": "en"}, {"lang": "fr"}])
    picture = next(item for item in store.get() if item.kind == "image")
    store.set_words([picture.id], [words(["Quarterly revenue"])], source="ocr")
    before = {item.id: item.metadata for item in store.get()}

    report = store.reindex(b)
    assert (report.collection, report.previous, report.embedded, report.resumed) == (
        "siglip__r1",
        "siglip",
        8,
        0,
    )
    assert report.failed == [] and "siglip__r1" in report.summary()
    assert store.collection_name == "siglip__r1" and store.model_name == b
    # every entry, with its metadata, and the new model's vectors
    after = {item.id: item for item in store.get(include_vectors=True)}
    assert {entry: item.metadata for entry, item in after.items()} == before
    encoder = SiglipEncoder(b)
    with Image.open(folder / "p0.png") as image:
        expected = encoder.encode_images([image.convert("RGB")])[0]
    first = next(item for item in after.values() if item.uri and item.uri.endswith("p0.png"))
    np.testing.assert_allclose(first.vector, expected, atol=1e-5)
    np.testing.assert_allclose(after[texts[0]].vector, encoder.encode_texts(["a red square"])[0], atol=1e-5)
    assert after[texts[0]].text == "a red square"
    # the words came along, embedded by the new text tower
    assert store.words([picture.id])[picture.id].text == "Quarterly revenue"
    assert store.query_words(encoder.encode_texts(["Quarterly revenue"])[0], k=1)[0][0] == picture.id
    # another store object opens the live collection with its model, and refuses the old one
    store.close()
    again = _store(tmp_path / "db")
    assert again.collection_name == "siglip__r1" and again.model_name == b and again.count() == 8
    roles = {info.role: (info.name, info.model, info.count) for info in again.collections()}
    assert roles == {"live": ("siglip__r1", b, 8), "previous": ("siglip", a, 8)}
    again.close()
    with pytest.raises(ModelMismatchError, match="reindex --model NEW"):
        _store(tmp_path / "db", a)


def test_rollback_and_drop_previous(models: tuple[str, str, str], tmp_path: Path) -> None:
    a, b, c = models
    store = _store(tmp_path / "db", a)
    store.index_folder(_pictures(tmp_path / "pictures"), ocr="off")
    store.reindex(b)
    other = MultimodalStore(None, client=store.client)  # a second reader in this process
    assert other.collection_name == "siglip__r1"
    assert store.rollback() == "siglip" and store.model_name == a
    assert other.follow_live() and other.model_name == a and other.count() == 6  # it follows the swap
    assert not other.follow_live()
    assert store.rollback() == "siglip__r1" and store.model_name == b  # and forth again
    assert store.drop_previous() == "siglip"
    assert [info.role for info in store.collections()] == ["live"]
    with pytest.raises(ConfigurationError, match="no previous collection"):
        store.rollback()
    assert store.drop_previous() is None
    # a second model change keeps one previous collection: the last live one
    report = store.reindex(c)
    assert (report.collection, report.previous) == ("siglip__r2", "siglip__r1")
    names = {collection.name for collection in store.client.list_collections()}
    assert "siglip" not in names and {"siglip__r1", "siglip__r2"} <= names
    with pytest.raises(ConfigurationError, match="already uses model"):
        store.reindex(c)


def test_an_interrupted_reindex_leaves_the_live_collection_and_resumes(
    models: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = models
    store = _store(tmp_path / "db", a)
    store.index_folder(_pictures(tmp_path / "pictures", 10), ocr="off")
    writes = {"count": 0}
    upsert = MultimodalStore.upsert_vectors

    def failing(self: MultimodalStore, *args: object, **kwargs: object) -> None:
        writes["count"] += 1
        if writes["count"] == 3:
            raise StoreError("the server went away (a test)")
        upsert(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MultimodalStore, "upsert_vectors", failing)
    with pytest.raises(StoreError):
        store.reindex(b, batch_size=4)
    monkeypatch.undo()
    assert store.collection_name == "siglip" and store.model_name == a  # still serving the old one
    record = store.live_record()
    assert (record.live, record.building, record.building_model) == ("siglip", "siglip__r1", b)
    report = store.reindex(b, batch_size=4)
    assert (report.resumed, report.embedded) == (8, 2)  # two batches were written before it stopped
    assert store.collection_name == "siglip__r1" and store.count() == 10


def test_entries_without_a_readable_file_are_reported(models: tuple[str, str, str], tmp_path: Path) -> None:
    a, b, _ = models
    folder = _pictures(tmp_path / "pictures", 3)
    store = _store(tmp_path / "db", a)
    store.index_folder(folder, ocr="off")
    store.add_images([Image.new("RGB", (16, 16), "blue")])  # bytes only: no file to read again
    (folder / "p1.png").unlink()
    report = store.reindex(b)
    reasons = sorted(item.reason for item in report.failed)
    assert len(reasons) == 2 and "stored without a file" in reasons[1]
    assert report.embedded == 2 and store.count() == 2


def test_the_reindex_command(models: tuple[str, str, str], tmp_path: Path) -> None:
    a, b, _ = models
    db = str(tmp_path / "db")
    assert run_cli("--model", a, "--db", db, "index", str(_pictures(tmp_path / "pictures"))).exit_code == 0
    missing = run_cli("--db", db, "reindex")
    assert missing.exit_code == 2 and "reindex --model NEW" in missing.stderr
    result = run_cli("--db", db, "reindex", "--model", b, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["collection"], report["previous"], report["embedded"]) == ("siglip__r1", "siglip", 6)
    info = run_cli("--db", db, "info")
    assert "live: siglip__r1" in info.output and "previous: siglip" in info.output
    assert json.loads(run_cli("--db", db, "info", "--json").output)["model"] == b
    assert "siglip" in run_cli("--db", db, "reindex", "--rollback").output
    assert json.loads(run_cli("--db", db, "info", "--json").output)["model"] == a
    dropped = run_cli("--db", db, "reindex", "--drop-previous")
    assert dropped.exit_code == 0 and "dropped siglip__r1" in dropped.output
