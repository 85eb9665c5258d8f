"""The global options (cli/settings.py): the store's own model, environment variables, a Chroma
server instead of an embedded store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import free_port, run_cli


def test_store_built_with_another_model(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    from siglip_retriever.tiny import build_checkpoint

    other = build_checkpoint(tmp_path / "other", hidden_size=16)
    result = run_cli("--model", str(other), "--db", str(tmp_path / "db"), "search", "cat")
    assert result.exit_code == 1
    assert "was built with model" in result.stderr
    verbose = run_cli("-v", "--model", str(other), "--db", str(tmp_path / "db"), "search", "cat")
    assert verbose.exit_code == 1
    assert type(verbose.exception).__name__ == "ModelMismatchError"


def test_unreachable_server_and_env_settings(tiny_siglip_dir: Path, tmp_path: Path, photos: Path) -> None:
    port = str(free_port())
    result = run_cli("--host", "127.0.0.1", "--port", port, "info")
    assert result.exit_code == 1
    assert f"no Chroma server answers at http://127.0.0.1:{port}" in result.stderr
    env = {"SIGLIP_RETRIEVER_MODEL": str(tiny_siglip_dir), "SIGLIP_RETRIEVER_DB": str(tmp_path / "envdb")}
    assert run_cli("index", str(photos), env=env).exit_code == 0
    assert json.loads(run_cli("info", "--json", env=env).stdout)["images"] == 4


def test_server_mode(chroma_server: tuple[str, int], tiny_siglip_dir: Path, photos: Path) -> None:
    host, port = chroma_server
    options = ["--model", str(tiny_siglip_dir), "--host", host, "--port", str(port), "--collection", "cli"]
    assert run_cli(*options, "index", str(photos)).exit_code == 0
    info = json.loads(run_cli(*options, "info", "--json").stdout)
    assert info["images"] == 4
    assert info["location"].startswith("http://127.0.0.1")
