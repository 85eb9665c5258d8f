"""A camera's memory card indexed: RAW files (hand-made DNGs: with the camera's preview, and
without one) beside the JPEG the camera wrote, and a damaged NEF. The RAW files are added with
their sensor size and date, found by what their picture shows, grouped with their JPEG twin as
duplicates (the RAW kept); the damaged one is reported with its reason; without the raw extra
they are ignored with the extra named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.store.indexing import index_files
from siglip_retriever.store.metadata import HEIGHT, SENSOR_HEIGHT, SENSOR_WIDTH, TAKEN, WIDTH
from siglip_retriever.store.scanning import scan_folder
from tests.helpers import run_cli
from tests.raws import damaged_nef_bytes, jpeg_bytes, write_dng

TWIN = ("IMG_0001.DNG", "IMG_0001.JPG")
"""A RAW and the JPEG the camera wrote beside it: a red circle."""
# (file, shape, colour, what is read): RAW files of their own
RAWS = [("IMG_0002.DNG", "square", "blue", "preview"), ("IMG_0003.DNG", "triangle", "green", "demosaiced")]
DAMAGED = "DSC_0004.NEF"


def _memory_card(root: Path) -> Path:
    root.mkdir()
    circle = render("circle", "red", 1, size=64)
    write_dng(root / TWIN[0], circle, orientation=6)  # held turned: the preview is shown upright
    (root / TWIN[1]).write_bytes(
        jpeg_bytes(circle.rotate(-90, expand=True), taken="2019:07:14 16:02:11", quality=95)
    )
    write_dng(root / RAWS[0][0], render("square", "blue", 2, size=64), taken="2020:05:06 07:08:09")
    write_dng(
        root / RAWS[1][0], render("triangle", "green", 3, size=64), preview=None, taken="2021:01:02 03:04:05"
    )
    (root / DAMAGED).write_bytes(damaged_nef_bytes())
    return root


def test_a_memory_card_is_indexed_grouped_and_found(tmp_path: Path) -> None:
    card, db = _memory_card(tmp_path / "card"), tmp_path / "db"
    with MultimodalStore(db, model="demo", device="cpu") as store:
        report = store.index_folder(card)
        assert sorted(Path(f.path).name for f in report.added) == sorted([*TWIN, *(r[0] for r in RAWS)])
        (failed,) = report.failed
        assert Path(failed.path).name == DAMAGED
        assert "not a camera RAW file, or damaged (LibRaw: " in failed.reason, failed.reason
        assert report.ignored == []

        meta = {Path(item.uri or "").name: item.metadata for item in store.get()}
        raw = meta[TWIN[0]]
        assert (raw[WIDTH], raw[HEIGHT]) == (64, 64) and (raw[SENSOR_WIDTH], raw[SENSOR_HEIGHT]) == (64, 64)
        assert raw[TAKEN] == "2019-07-14T16:02:11"
        assert SENSOR_WIDTH not in meta[TWIN[1]] and meta[TWIN[1]][TAKEN] == "2019-07-14T16:02:11"
        assert meta["IMG_0002.DNG"][TAKEN] == "2020-05-06T07:08:09"
        assert meta["IMG_0003.DNG"][TAKEN] == "2021-01-02T03:04:05"
        assert (meta["IMG_0003.DNG"][WIDTH], meta["IMG_0003.DNG"][SENSOR_WIDTH]) == (64, 64)

        groups = store.find_duplicates()
        (group,) = groups
        assert [Path(f.path or "").name for f in group.files] == list(TWIN)  # the RAW kept first
        assert group.reasons == ("picture",) and group.keep.keep

        again = store.index_folder(card)  # nothing changed: skipped, the damaged one reported again
        assert again.added == [] and [Path(f.path).name for f in again.failed] == [DAMAGED]

        (hit,) = Retriever(store, k=1).search(str(card / TWIN[0]))  # a RAW file's path: a picture query
        assert (
            Path(hit.metadata["uri"]).name == TWIN[1] and hit.similarity > 0.95
        )  # its twin; itself left out

    listed = run_cli("--model", "demo", "--db", str(db), "duplicates", "--json")
    assert listed.exit_code == 0, listed.output
    (entry,) = json.loads(listed.output)["groups"]
    assert [Path(f["path"]).name for f in entry["files"]] == list(TWIN)
    assert Path(entry["keep"]).name == TWIN[0]

    for name, shape, colour, _ in [(TWIN[0], "circle", "red", "preview"), *RAWS]:
        found = run_cli(
            "--model", "demo", "--db", str(db), "search", f"a {colour} {shape}", "-k", "2", "--json"
        )
        assert found.exit_code == 0, found.output
        names = [Path(hit["uri"]).name for hit in json.loads(found.output)["hits"]]
        wanted = set(TWIN) if name in TWIN else {name}
        assert wanted <= set(names) and names[0] in wanted, (shape, colour, names)


def test_without_the_raw_extra_raw_files_are_ignored_and_say_why(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = _memory_card(tmp_path / "card")
    monkeypatch.setitem(sys.modules, "rawpy", None)  # as when the extra is not installed
    scan = scan_folder(card)
    assert [path.name for path in scan.files] == [TWIN[1]]
    reasons = {Path(item.path).name: item.reason for item in scan.ignored}
    assert set(reasons) == {TWIN[0], *(r[0] for r in RAWS), DAMAGED}
    for reason in reasons.values():
        assert "camera RAW" in reason and "pip install 'siglip-retriever[raw]'" in reason, reason

    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="no-raw")
    report = store.index_folder(card)
    assert [Path(f.path).name for f in report.added] == [TWIN[1]] and report.failed == []
    assert report.ignored_by_extension() == {".dng": 3, ".nef": 1}

    # named one by one, they are read, and each fails alone with what to install
    given = index_files(store, [card / TWIN[0], card / TWIN[1]])
    assert [Path(f.path).name for f in given.failed] == [TWIN[0]]
    assert "pip install 'siglip-retriever[raw]'" in given.failed[0].reason, given.failed[0].reason
    assert [Path(f.path).name for f in given.skipped] == [TWIN[1]]


@pytest.mark.slow  # starting worker processes (torch imported in each): about 20 s on 2 cores
def test_raw_files_are_read_in_worker_processes_too(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    card = _memory_card(tmp_path / "card")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="raw-processes")
    report = store.index_folder(card, decode="processes")
    assert report.feed is not None and report.feed.kind == "processes", report.feed
    assert sorted(Path(f.path).name for f in report.added) == sorted([*TWIN, *(r[0] for r in RAWS)])
    (failed,) = report.failed
    assert Path(failed.path).name == DAMAGED and "not a camera RAW file, or damaged" in failed.reason
    meta = {Path(item.uri or "").name: item.metadata for item in store.get()}
    assert {name: (m.get(SENSOR_WIDTH), m.get(TAKEN)) for name, m in meta.items()} == {
        TWIN[0]: (64, "2019-07-14T16:02:11"),
        TWIN[1]: (None, "2019-07-14T16:02:11"),
        "IMG_0002.DNG": (64, "2020-05-06T07:08:09"),
        "IMG_0003.DNG": (64, "2021-01-02T03:04:05"),
    }
