"""The ``duplicates`` command (cli/duplicates.py): groups as a table and as JSON (the documented
schema), the thresholds' ranges, and the warning for entries without a fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from siglip_retriever.store import MultimodalStore
from tests.helpers import photo_with_copies, run_cli

GROUP_KEYS = {"files", "keep", "reasons", "reclaimable_bytes"}
FILE_KEYS = {"id", "path", "size", "width", "height", "date", "date_source", "bits", "similarity", "keep"}


def test_duplicates_table_and_json(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    root = photo_with_copies(tmp_path / "pictures", 1)
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    assert run_cli(*options, "index", str(root)).exit_code == 0

    result = run_cli(*options, "duplicates", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"max_bits", "similar", "checked", "unhashed", "message", "groups"}
    assert (data["max_bits"], data["similar"], data["checked"], data["unhashed"]) == (12, None, 3, 0)
    [group] = data["groups"]
    assert set(group) == GROUP_KEYS and all(set(item) == FILE_KEYS for item in group["files"])
    names = [Path(item["path"]).name for item in group["files"]]
    assert names[0] in {"beach.jpg", "IMG_0001.jpg"} and sorted(names[1:]) == sorted(
        {"beach.jpg", "IMG_0001.jpg", "beach-small.jpg"} - {names[0]}
    )
    assert group["keep"] == group["files"][0]["path"] and group["files"][0]["keep"] is True
    assert group["reasons"] == ["identical", "picture"]
    assert group["files"][0]["width"] == 320 and group["files"][-1]["width"] == 160
    assert group["files"][0]["date_source"] == "modified"

    table = run_cli(*options, "duplicates")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].startswith("group 1: 3 files (same bytes, same picture)")
    assert lines[1].split()[:2] == ["keep", "320x240"]
    assert "1 group among 3 pictures (max 12 bits): 2 files beside the kept ones" in table.stdout
    assert "Nothing was deleted." in table.stdout

    strict = run_cli(*options, "duplicates", "--max-bits", "0", "--json")
    assert [len(g["files"]) for g in json.loads(strict.stdout)["groups"]] in ([2], [3])
    assert run_cli(*options, "duplicates", "--max-bits", "21").exit_code == 2
    assert run_cli(*options, "duplicates", "--similar", "1.5").exit_code == 2
    widened = json.loads(run_cli(*options, "duplicates", "--similar", "0.999", "--json").stdout)
    assert widened["similar"] == 0.999 and widened["groups"][0]["files"][0]["similarity"] is not None


def test_entries_without_a_fingerprint_are_counted_with_what_to_do(
    tiny_siglip_dir: Path, tmp_path: Path
) -> None:
    with MultimodalStore(tmp_path / "db", model=tiny_siglip_dir, device="cpu") as store:
        vectors = np.eye(2, store.encoder.dim, dtype=np.float32)
        old = [{"kind": "image", "uri": f"/old/{n}.jpg", "width": 10, "height": 10} for n in range(2)]
        store.upsert_vectors(["img-1", "img-2"], vectors, old)
    result = run_cli("--db", str(tmp_path / "db"), "--device", "cpu", "duplicates")
    assert result.exit_code == 0, result.output
    assert "warning: 2 of 2 pictures have no fingerprint" in result.stderr
    assert "run 'siglip-retriever index' on their folders again" in result.stderr
    assert "0 groups among 2 pictures" in result.stdout
    missing = run_cli("--db", str(tmp_path / "none"), "duplicates")
    assert missing.exit_code == 2 and "index some images first" in missing.output  # a ConfigurationError
