"""The ``serve`` command (cli/serve.py): the web app served by the console script on 127.0.0.1; after
``serve``, --host and --port are the web app's, --chroma-host and --chroma-port the Chroma server's."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import cli_server, colour_pictures, free_port, run_cli


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
    arguments = [
        "serve",
        *options,
        "--port",
        "0",
        "--max-k",
        "7",
        "--open",
        "--decode-slots",
        "3",
        "--body-timeout",
        "9",
    ]
    with cli_server(arguments, first_line="Serving 2 pictures of ", env={"BROWSER": f"{browser} %s"}) as url:
        assert httpx.get(url + "health", timeout=10).json()["status"] == "ok"
        info = httpx.get(url + "api/info", timeout=10).json()
        assert info["images"] == 2
        assert info["limits"]["max_k"] == 7
        assert (info["limits"]["max_concurrent_decodes"], info["limits"]["body_timeout_seconds"]) == (3, 9)
        too_many = httpx.get(url + "api/search", params={"q": "rouge", "k": 8}, timeout=30)
        assert too_many.json()["error"] == "k_too_large"
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == url


@pytest.mark.slow
def test_serve_prints_no_parser_noise(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    """Scanners send garbage: each gets its 400 or 422, and the server's output stays quiet."""
    options = _cli_store(tiny_siglip_dir, tmp_path)
    script = Path(sys.executable).with_name("siglip-retriever")
    process = subprocess.Popen(
        [str(script), *options, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" at ", 1)[1].split(" ", 1)[0]
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        for garbage in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00"):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(garbage)
                assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        malformed = httpx.post(
            url + "api/similar",
            content=b"--b\r\nBad\r\n\r\nx\r\n--b--\r\n",
            headers={"content-type": "multipart/form-data; boundary=b"},
            timeout=10,
        )
        assert malformed.json()["error"] == "invalid_request"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "Invalid HTTP request" not in out + err and "invalid character" not in out + err, out + err


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``serve`` would serve: the store's location and the server's options, one dict a run."""
    calls: list[dict[str, Any]] = []

    def fake_serve(store: Any, **options: Any) -> None:
        calls.append({"location": store.location, **options})
        options["on_started"]("http://web.app/")

    monkeypatch.setattr("siglip_retriever.app.server.serve", fake_serve)
    return calls


LISTEN_PORT, BIND = "SIGLIP_RETRIEVER_LISTEN_PORT", "SIGLIP_RETRIEVER_BIND"


def test_serve_port_and_host_after_serve_are_the_web_apps(
    indexed: tuple[list[str], Path], served: list[dict[str, Any]]
) -> None:
    """``serve --port 9000`` serves the web app on 9000; --listen-port and --bind are the same."""
    options, _ = indexed
    cases = [
        ([*options, "serve"], {}, ("127.0.0.1", 8765)),
        ([*options, "serve", "--port", "9000", "--host", "0.0.0.0"], {}, ("0.0.0.0", 9000)),
        (["serve", *options, "--listen-port", "9001", "--bind", "::1"], {}, ("::1", 9001)),
        (["serve", "--host-address", "127.0.0.2", *options], {}, ("127.0.0.2", 8765)),
        ([*options, "serve"], {LISTEN_PORT: "9002", BIND: "127.0.0.3"}, ("127.0.0.3", 9002)),
        ([*options, "serve", "--port", "9003"], {LISTEN_PORT: "9002"}, ("127.0.0.1", 9003)),
        # the global --host and --port before serve are the Chroma server's, not the web app's
        ([*options, "--port", "8001", "serve"], {}, ("127.0.0.1", 8765)),
    ]  # fmt: skip
    for arguments, env, (host, port) in cases:
        result = run_cli(*arguments, env=env)
        assert result.exit_code == 0, (arguments, result.output)
        assert result.stdout.startswith("Serving 4 pictures of "), result.stdout
        assert result.stdout.rstrip().endswith("at http://web.app/ (Ctrl+C to stop)")
        assert (served[-1]["host"], served[-1]["port"]) == (host, port), arguments
    assert len(served) == len(cases)


def test_serve_reaches_the_chroma_server_as_chroma_host_and_port_or_before_serve(
    chroma_server: tuple[str, int], tiny_siglip_dir: Path, served: list[dict[str, Any]]
) -> None:
    host, port = chroma_server
    model = ["--model", str(tiny_siglip_dir), "--collection", "cli-serve"]
    after = ["serve", *model, "--chroma-host", host, "--chroma-port", str(port), "--port", "9000"]
    before = ["--host", host, "--port", str(port), *model, "serve", "--port", "9000", "--host", "0.0.0.0"]
    env = {"SIGLIP_RETRIEVER_HOST": host, "SIGLIP_RETRIEVER_PORT": str(port)}
    for arguments, variables in ((after, {}), (before, {}), ([*model, "serve", "--port", "9000"], env)):
        result = run_cli(*arguments, env=variables)
        assert result.exit_code == 0, (arguments, result.output)
        assert served[-1]["location"].startswith(f"http://{host}:{port}"), served[-1]["location"]
        assert served[-1]["port"] == 9000
    assert served[1]["host"] == "0.0.0.0"
    nobody = str(free_port())
    missed = run_cli("serve", *model, "--chroma-host", "127.0.0.1", "--chroma-port", nobody, "--port", "9000")
    assert missed.exit_code == 1
    assert f"no Chroma server answers at http://127.0.0.1:{nobody}" in missed.stderr


def test_serve_command_needs_an_existing_store(tmp_path: Path) -> None:
    result = run_cli("--db", str(tmp_path / "nothing"), "serve")
    assert result.exit_code == 2
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
    words = " ".join(text.split())
    for shown in (
        "--host, --bind, --host-address TEXT Address the web app listens on.",
        "--port, --listen-port INTEGER RANGE Port the web app listens on",
        "The Chroma server's port: --chroma-port, or --port before serve.",
        "env var: SIGLIP_RETRIEVER_LISTEN_PORT",
        "env var: SIGLIP_RETRIEVER_BIND",
        "--chroma-host TEXT Chroma server host",
        "--chroma-port INTEGER RANGE Chroma server port. [env var: SIGLIP_RETRIEVER_PORT",
    ):
        assert shown in words, shown


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
