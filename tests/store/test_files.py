"""The files holding an entry's bytes (store/files.py): written as an entry's metadata and read
back, primary first, from entries of this version and of those before it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.files import StoredFile, files_metadata, paths_value, stored_files
from siglip_retriever.store.metadata import MTIME, PATHS, SIZE, URI


def test_stored_files_primary_first_and_old_entries() -> None:
    files = [
        StoredFile("/p/a.jpg", 10, 1_600_000_000_000_000_000),
        StoredFile("/q/b.jpg", 10, 1_700_000_000_500_000_001),
    ]
    meta = files_metadata(files)
    assert (meta[URI], meta[MTIME], meta[SIZE]) == ("/p/a.jpg", 1_600_000_000_000_000_000, 10)
    assert json.loads(meta[PATHS])[1] == {
        "path": "/q/b.jpg",
        "mtime_ns": 1_700_000_000_500_000_001,
        "size": 10,
    }
    assert stored_files(meta) == files  # to the nanosecond
    assert [file.modified for file in files] == [1.6e9, 1.7000000005e9]
    # an entry written before paths were recorded: its uri alone
    assert stored_files({URI: "/p/a.jpg", MTIME: 5, SIZE: 9}) == [StoredFile("/p/a.jpg", 9, 5)]
    # an unreadable paths value falls back to the uri; entries from no file have none
    assert stored_files({URI: "/p/a.jpg", MTIME: 5, SIZE: 9, PATHS: "{oops"}) == [
        StoredFile("/p/a.jpg", 9, 5)
    ]
    assert stored_files({"kind": "image"}) == [] and stored_files(None) == []
    assert stored_files({PATHS: paths_value([StoredFile("/p/é ü.jpg", 2, 1)])}) == [
        StoredFile("/p/é ü.jpg", 2, 1)
    ]
    with pytest.raises(ConfigurationError, match="cannot be empty"):
        files_metadata([])


def test_what_is_not_recorded_is_unknown() -> None:
    odd = json.dumps([{"path": "/p/a.jpg", "mtime_ns": None, "size": True}, {"path": ""}, "x", {"size": 1}])
    [file] = stored_files({PATHS: odd})
    assert file == StoredFile("/p/a.jpg", -1, -1) and file.modified is None
    assert stored_files({URI: "/p/a.jpg"}) == [StoredFile("/p/a.jpg", -1, -1)]


def test_a_local_file_as_indexing_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.png").write_bytes(b"12345")
    os.utime(tmp_path / "a.png", ns=(1_500_000_000_123_456_789, 1_500_000_000_123_456_789))
    monkeypatch.chdir(tmp_path)
    assert StoredFile.local("a.png") == StoredFile(
        str(tmp_path.resolve() / "a.png"), 5, 1_500_000_000_123_456_789
    )
    with pytest.raises(FileNotFoundError):
        StoredFile.local("gone.png")
