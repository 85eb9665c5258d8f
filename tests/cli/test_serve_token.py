"""``serve``'s token (cli/serve.py, app/server.py): bound off loopback, the web app asks for one.

``--host 0.0.0.0`` without ``--token``: a generated token, printed once in the page's URL; with
``--token`` or ``SIGLIP_RETRIEVER_TOKEN``: that one, never printed. The servers bind ``0.0.0.0``
and are reached through ``127.0.0.1`` only. The app's side is tested in tests/app/test_auth.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from siglip_retriever.app.auth import new_token
from tests.helpers import run_cli

TOKEN_ENV = "SIGLIP_RETRIEVER_TOKEN"


@contextmanager
def _serving(arguments: list[str], env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """``siglip-retriever ARGUMENTS`` in a process: its first line, then (once the block ends) the
    rest of its output appended to the list it yields."""
    script = Path(sys.executable).with_name("siglip-retriever")
    variables = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    process = subprocess.Popen(
        [str(script), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**variables, "PYTHONUNBUFFERED": "1", **env},
    )
    rest: list[str] = []
    try:
        assert process.stdout is not None
        yield process.stdout.readline(), rest
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
        rest += [out, err]


@pytest.mark.slow
def test_serve_on_every_interface_generates_a_token_and_prints_it_once(
    indexed: tuple[list[str], Path],
) -> None:
    options, _ = indexed
    with _serving([*options, "-v", "serve", "--host", "0.0.0.0", "--port", "0"], {}) as (line, rest):
        found = re.fullmatch(
            r"Serving 4 pictures of \S+ at (http://127\.0\.0\.1:\d+/)\?token=([A-Za-z0-9_-]{43}) "
            r"\(Ctrl\+C to stop\); "
            r"API clients send this address's token in 'Authorization: Bearer'\n",
            line,
        )
        assert found, line
        url, token = found.groups()
        assert httpx.get(url + "health", timeout=10).status_code == 200
        refused = httpx.get(url + "api/info", timeout=10)
        assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "api/info", headers=bearer, timeout=10).json()["images"] == 4
        with httpx.Client(timeout=10, follow_redirects=True) as browser:  # the printed URL, in a browser
            page = browser.get(url + f"?token={token}")
            assert (page.status_code, str(page.url)) == (200, url)
            assert "SigLIP image search" in page.text
            assert browser.get(url + "api/search", params={"q": "rouge", "k": 1}).status_code == 200
    assert token not in "".join(rest)  # printed once: in the first line only
    assert "Uvicorn running on http://0.0.0.0:" in "".join(rest)  # the server's own log ran (-v)


@pytest.mark.slow
def test_serve_with_a_token_given_asks_for_it_and_never_prints_it(indexed: tuple[list[str], Path]) -> None:
    options, _ = indexed
    token = new_token()
    arguments = [*options, "-v", "serve", "--bind", "0.0.0.0", "--port", "0"]
    with _serving(arguments, {TOKEN_ENV: token}) as (line, rest):
        assert line.startswith("Serving 4 pictures of "), line
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url  # no token in the address
        assert token not in line and "clients send the token it was given" in line
        assert httpx.get(url + "api/info", timeout=10).status_code == 401
        wrong = {"Authorization": f"Bearer {new_token()}"}
        assert httpx.get(url + "api/info", headers=wrong, timeout=10).status_code == 401
        right = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "api/info", headers=right, timeout=10).status_code == 200
    assert token not in "".join(rest)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The options ``serve`` would serve with, one dict a run (no server starts)."""
    calls: list[dict[str, Any]] = []

    def fake_serve(store: Any, **options: Any) -> None:
        calls.append(options)
        options["on_started"]("http://web.app/")

    monkeypatch.setattr("siglip_retriever.app.server.serve", fake_serve)
    return calls


def test_serve_takes_the_token_from_the_option_or_the_environment(
    indexed: tuple[list[str], Path], served: list[dict[str, Any]]
) -> None:
    options, _ = indexed
    given, other = new_token(), new_token()
    cases = [
        ([*options, "serve"], {}, None),  # none on loopback; bound elsewhere, serve generates one
        ([*options, "serve", "--host", "0.0.0.0"], {}, None),
        ([*options, "serve", "--token", given], {}, given),  # on loopback too, when given
        ([*options, "serve", "--host", "0.0.0.0"], {TOKEN_ENV: given}, given),
        ([*options, "serve", "--token", given], {TOKEN_ENV: other}, given),
    ]
    for arguments, env, token in cases:
        result = run_cli(*arguments, env={TOKEN_ENV: "", **env})  # an empty variable is no token
        assert result.exit_code == 0, (arguments, result.output)
        assert served[-1]["token"] == token, arguments
        assert given not in result.output and other not in result.output


def test_a_weak_token_is_a_usage_error_that_does_not_repeat_it(tmp_path: Path) -> None:
    for weak in ("hunter2", "a token with spaces in it", "correct-horse-battery-staple&x=1"):
        result = run_cli("--db", str(tmp_path / "nothing"), "serve", "--host", "0.0.0.0", "--token", weak)
        assert result.exit_code == 2, result.output
        assert "secrets.token_urlsafe(32)" in result.stderr  # before the store is opened
        assert weak not in result.output


def test_serve_help_documents_the_token() -> None:
    result = run_cli("serve", "--help")
    words = " ".join(result.output.split())
    assert "--token TEXT Token clients must send" in words
    assert "env var: SIGLIP_RETRIEVER_TOKEN" in words
