"""The ``serve`` command (cli/serve.py): the web app served by the console script on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import cli_server, colour_pictures, run_cli


def _cli_store(tiny_siglip_dir: Path, root: Path) -> list[str]:
    photos = root / "photos"
    colour_pictures(photos, ("red", "blue"), size=(32, 32))
    options = ["--model", str(tiny_siglip_dir), "--db", str(root / "db"), "--device", "cpu"]
    result = run_cli(*options, "index", str(photos))
    assert result.exit_code == 0, result.output
    return options


@pytest.mark.slow
def test_serve_command_binds_loopback_and_answers(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    options = _cli_store(tiny_siglip_dir, tmp_path)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"  # --open runs $BROWSER with the page's URL
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    arguments = [*options, "serve", "--listen-port", "0", "--max-k", "7", "--open"]
    with cli_server(arguments, first_line="Serving 2 pictures of ", env={"BROWSER": f"{browser} %s"}) as url:
        assert httpx.get(url + "health", timeout=10).json()["status"] == "ok"
        info = httpx.get(url + "api/info", timeout=10).json()
        assert info["images"] == 2
        assert info["limits"]["max_k"] == 7
        too_many = httpx.get(url + "api/search", params={"q": "rouge", "k": 8}, timeout=30)
        assert too_many.json()["error"] == "k_too_large"
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == url


def test_serve_command_needs_an_existing_store(tmp_path: Path) -> None:
    result = run_cli("--db", str(tmp_path / "nothing"), "serve")
    assert result.exit_code == 1
    assert "no store at" in result.stderr


def test_serve_help_documents_the_options_and_stays_light() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from siglip_retriever.cli import main; "
        "r = CliRunner().invoke(main, ['serve', '--help']); "
        "heavy = [m for m in ('torch', 'fastapi', 'uvicorn') if m in sys.modules]; "
        "print(json.dumps([r.exit_code, r.output, heavy]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    exit_code, text, heavy = json.loads(out)
    assert exit_code == 0
    assert heavy == []
    for option in ("--bind", "--host-address", "--listen-port", "--open", "--max-upload-mb", "127.0.0.1"):
        assert option in text


def test_missing_extra_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "import sys, json; sys.modules['fastapi'] = None; "
        "import siglip_retriever.app as app; from siglip_retriever.errors import MissingDependencyError; "
        "out = {'light': 'fastapi' not in [m for m in sys.modules if sys.modules[m] is not None]}\n"
        "try:\n    app.create_app\nexcept MissingDependencyError as exc:\n    out['error'] = str(exc)\n"
        "from click.testing import CliRunner; from siglip_retriever.cli import main\n"
        f"r = CliRunner().invoke(main, ['--db', {str(tmp_path)!r}, 'serve'])\n"
        "out['cli'] = [r.exit_code, r.stderr]; print(json.dumps(out))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    result = json.loads(out.stdout)
    assert result["light"] is True
    assert "pip install 'siglip-retriever[app]'" in result["error"]
    assert result["cli"][0] == 1
    assert "The web app needs the 'fastapi' package" in result["cli"][1]
