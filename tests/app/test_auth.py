"""The token of a server other machines can reach (app/auth.py, app/server.py), on real servers.

Servers bound to ``0.0.0.0`` are reached through ``127.0.0.1`` only: the rule follows the address
the server is bound to, not the client's, so a request from this machine needs the token too.
The ``serve`` command's token is tested in tests/cli/test_serve_token.py.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from starlette.routing import Mount
from uvicorn.logging import AccessFormatter, DefaultFormatter

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.app.auth import new_token
from siglip_retriever.app.server import allowed_hosts_for
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from tests.app.test_browser import CHROMIUM_ARGS
from tests.helpers import colour_pictures

TOKEN = new_token()
WRONG = new_token()
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def store(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> MultimodalStore:
    root = tmp_path_factory.mktemp("auth")
    colour_pictures(root / "photos", ("red", "blue"))
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root / "photos")
    return store


def _exposed_app(store: MultimodalStore, **options: Any) -> FastAPI:
    limits = Limits(max_upload_bytes=64 * 1024)
    return create_app(
        store, limits=limits, allowed_hosts=allowed_hosts_for("0.0.0.0"), token=TOKEN, **options
    )


@pytest.fixture(scope="module")
def exposed(store: MultimodalStore) -> Iterator[tuple[str, FastAPI]]:
    """The app with a token, bound to 0.0.0.0, its URL on 127.0.0.1."""
    app = _exposed_app(store)
    with BackgroundServer(app, host="0.0.0.0") as server:
        assert server.url.startswith("http://127.0.0.1:")
        yield server.url, app


def _image_id(url: str) -> str:
    hits = httpx.get(url + "api/search", params={"q": "rouge", "k": 1}, headers=BEARER, timeout=30)
    assert hits.status_code == 200, hits.text
    return str(hits.json()["hits"][0]["id"])


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(prefix, route) for each route, through the routers FastAPI includes lazily."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def _requests(app: FastAPI, image_id: str) -> list[tuple[str, str]]:
    """(method, path) for every route of ``app`` (walked, so routes added later are covered too)."""
    walked = []
    for prefix, route in _routes(app.routes):
        if isinstance(route, Mount):
            walked.append(("GET", prefix + route.path + "/app.js"))
            continue
        path = prefix + re.sub(r"\{[^}]+\}", image_id, route.path)
        walked += [(method, path) for method in sorted(route.methods or ())]
    return walked


def _send(url: str, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    files = {"image": ("red.png", _png(), "image/png")} if method == "POST" else None
    data = {"labels": ["rouge"]} if method == "POST" else None
    return httpx.request(method, url + path.lstrip("/"), headers=headers, files=files, data=data, timeout=30)


def test_a_loopback_server_stays_open(store: MultimodalStore) -> None:
    with BackgroundServer(create_app(store)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "api/info", timeout=10).json()["images"] == 2
        assert "SigLIP image search" in httpx.get(server.url, timeout=10).text
        assert "bearer" not in httpx.get(server.url + "openapi.json", timeout=10).text.lower()


def test_a_server_bound_elsewhere_without_a_token_is_refused(store: MultimodalStore) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "photos.lan"):
        with pytest.raises(
            ConfigurationError, match=f"bound to {re.escape(host)} .* create_app\\(store, token="
        ):
            BackgroundServer(create_app(store, allowed_hosts=["*"]), host=host)
    for bad in ("", "hunter2", "a token with spaces in it", "t" * 20 + "&admin=1"):
        with pytest.raises(ConfigurationError) as refused:
            create_app(store, token=bad)
        assert (bad or "\0") not in str(refused.value)
        assert "secrets.token_urlsafe(32)" in str(refused.value)


def test_every_route_but_health_answers_401_without_the_token(exposed: tuple[str, FastAPI]) -> None:
    url, app = exposed
    walked = _requests(app, _image_id(url))
    paths = {path for _, path in walked}
    for expected in (
        "/api/search",
        "/api/similar",
        "/api/classify",
        "/v1/embeddings",
        "/v1/models",
        "/openapi.json",
        "/docs",
        "/static/app.js",
    ):
        assert expected in paths, expected
    walked.append(("GET", "/no/such/route"))  # no route discovery either
    credentials = [
        ({}, "Bearer"),
        ({"Authorization": f"Bearer {WRONG}"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Basic {TOKEN}"}, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, 'Bearer error="invalid_token"'),
        ({"Cookie": "siglip-retriever-0123456789abcdef=0"}, "Bearer"),  # another server's cookie
    ]
    for method, path in walked:
        for headers, challenge in credentials:
            answer = _send(url, method, path, headers)
            if path == "/health":
                assert answer.status_code == 200, (method, path, headers)
                continue
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.headers["www-authenticate"] == challenge, (method, path, headers)
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["x-content-type-options"] == "nosniff"  # through the RequestGuard
            if method == "HEAD":
                assert answer.content == b""
            elif path == "/":
                assert 'name="token"' in answer.text  # the sign-in box, tested below
            else:  # in OpenAI's shape under /v1/
                body = answer.json()
                error = body["error"] if path.startswith("/v1/") else body
                assert error["code" if path.startswith("/v1/") else "error"] == "unauthorized", (method, path)
                assert "Authorization: Bearer <token>" in error["message"]
                assert TOKEN not in answer.text and WRONG not in answer.text
    assert httpx.get(url + "health", params={"token": WRONG}, timeout=10).status_code == 200  # open, always


def test_a_refused_upload_is_not_read(exposed: tuple[str, FastAPI]) -> None:
    url, _ = exposed
    huge = b"\0" * (1024 * 1024)  # past the server's upload limit: 413 only with the token
    refused = httpx.post(url + "api/similar", files={"image": ("x.png", huge, "image/png")}, timeout=30)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    too_large = httpx.post(
        url + "api/similar", files={"image": ("x.png", huge, "image/png")}, headers=BEARER, timeout=30
    )
    assert (too_large.status_code, too_large.json()["error"]) == (413, "upload_too_large")


def test_the_bearer_token_opens_every_route(exposed: tuple[str, FastAPI]) -> None:
    url, app = exposed
    for method, path in _requests(app, _image_id(url)):
        answer = _send(url, method, path, BEARER)  # the route answers (a 422 for a missing q, say)
        assert answer.status_code != 401, (method, path, answer.text)
        assert "www-authenticate" not in answer.headers, (method, path)
        assert answer.status_code < 500, (method, path, answer.text)
        if path in ("/", "/api/info", "/api/similar", "/api/classify", "/openapi.json", "/static/app.js"):
            assert answer.status_code == 200, (method, path, answer.text)
    hits = httpx.get(url + "api/search", params={"q": "bleu", "k": 2}, headers=BEARER, timeout=30).json()[
        "hits"
    ]
    assert len(hits) == 2
    thumbnail = httpx.get(url + hits[0]["thumbnail_url"].lstrip("/"), headers=BEARER, timeout=10)
    assert Image.open(io.BytesIO(thumbnail.content)).format == "JPEG"
    lower = {"authorization": f"bearer {TOKEN}"}  # the scheme's case does not matter
    assert httpx.get(url + "api/info", headers=lower, timeout=10).status_code == 200


def test_openai_clients_send_the_token_as_their_api_key(exposed: tuple[str, FastAPI]) -> None:
    url, _ = exposed
    client = openai.OpenAI(base_url=url + "v1", api_key=TOKEN, max_retries=0, timeout=60)
    vectors = client.embeddings.create(model="siglip", input=["un chat", "a dog"]).data
    assert [len(v.embedding) for v in vectors] == [len(vectors[0].embedding)] * 2
    stranger = openai.OpenAI(base_url=url + "v1", api_key=WRONG, max_retries=0, timeout=60)
    with pytest.raises(openai.AuthenticationError) as refused:
        stranger.embeddings.create(model="siglip", input="un chat")
    assert refused.value.status_code == 401
    assert refused.value.code == "unauthorized" and WRONG not in str(refused.value)


def test_the_openapi_document_declares_the_bearer_scheme_not_the_token(exposed: tuple[str, FastAPI]) -> None:
    url, _ = exposed
    answer = httpx.get(url + "openapi.json", headers=BEARER, timeout=10)
    assert TOKEN not in answer.text
    document = answer.json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    search = document["paths"]["/api/search"]["get"]
    assert search["security"] == [{"bearer": []}]
    assert search["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "security" not in document["paths"]["/health"]["get"]
    assert all(
        "401" in op["responses"]
        for p, ops in document["paths"].items()
        if p != "/health"
        for op in ops.values()
    )
    openai_401 = document["paths"]["/v1/embeddings"]["post"]["responses"]["401"]
    assert openai_401["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIErrorBody")


def test_the_page_shows_a_sign_in_box(exposed: tuple[str, FastAPI]) -> None:
    url, _ = exposed
    page = httpx.get(url, timeout=10)
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert '<form id="signin" method="get" action="">' in page.text
    assert '<input id="token" name="token" type="password"' in page.text
    assert 'role="alert"' not in page.text
    csp = page.headers["content-security-policy"]  # its own: the inline style by its hash, no script
    assert "style-src 'sha256-" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    wrong = httpx.get(url, params={"token": WRONG}, timeout=10)
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text and WRONG not in wrong.text
    docs = httpx.get(url + "docs", headers={"Accept": "text/html,application/xhtml+xml"}, timeout=10)
    assert docs.status_code == 401 and 'name="token"' in docs.text  # any page a browser opens
    signed = httpx.get(url, headers=BEARER, timeout=10)
    assert (
        signed.status_code == 200
        and "SigLIP image search" in signed.text
        and 'name="token"' not in signed.text
    )


def test_token_in_the_url_once_then_a_cookie(exposed: tuple[str, FastAPI]) -> None:
    url, _ = exposed
    with httpx.Client(base_url=url, timeout=10, follow_redirects=False) as browser:
        signed_in = browser.get("/", params={"q": "un chat", "token": TOKEN})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/?q=un+chat"  # the URL without the token
        cookie = signed_in.headers["set-cookie"]
        assert re.fullmatch(
            r"siglip-retriever-[0-9a-f]{16}=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict", cookie
        )
        assert all(
            TOKEN not in value for value in signed_in.headers.values()
        )  # a derived value, not the token
        assert browser.get("/").status_code == 200
        assert browser.get("/api/info").json()["images"] == 2
        elsewhere = browser.get(f"/api/images/{_image_id(url)}/thumbnail?token={TOKEN}")
        assert (elsewhere.status_code, elsewhere.headers["location"]) == (
            303,
            f"/api/images/{_image_id(url)}/thumbnail",
        )
        name, value = cookie.split(";", 1)[0].split("=")
        browser.cookies.clear()
        other = "1" if value.endswith("0") else "0"  # one hex digit changed (never the same value)
        forged = browser.get("/api/info", headers={"Cookie": f"{name}={value[:-1]}{other}"})
        assert (
            forged.status_code == 401 and forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        )
        assert browser.post("/api/classify", params={"token": TOKEN}).status_code == 401  # only GET signs in
    linked = httpx.get(  # followed from a link on another site: a page of this site's own goes on
        url + "?q=%27%22%3C&token=" + TOKEN, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10
    )
    assert linked.status_code == 200 and linked.headers["set-cookie"] == cookie
    assert '<meta http-equiv="refresh" content="0; url=\'/?q=%27%22%3C\'">' in linked.text
    assert TOKEN not in linked.text
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    for target in (f"//evil.example/?token={TOKEN}", f"/\\evil.example/?token={TOKEN}"):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", target)
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("location")) == (303, "/"), target  # never another site
        connection.close()


def test_the_token_is_never_logged(store: MultimodalStore) -> None:
    """uvicorn's access log (the request line with its query), its error log and its traces of
    each ASGI scope, formatted as uvicorn prints them, at its most verbose level."""
    lines: list[str] = []
    access = AccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    default = DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False)

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            formatter = access if record.name == "uvicorn.access" else default
            lines.append(f"{formatter.format(record)} {record.args!r}")

    keep = Keep(level=1)
    names = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi")
    with BackgroundServer(_exposed_app(store), host="0.0.0.0", log_level="trace") as server:
        for name in names:
            logging.getLogger(name).addHandler(keep)
        try:
            with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
                assert client.post(f"/api/similar?token={TOKEN}", content=b"x").status_code == 401
                assert client.get("/", params={"token": WRONG}).status_code == 401
                assert client.get("/", params={"token": TOKEN}).status_code == 303
                assert client.get(f"/?%74oken={TOKEN}&q=x").status_code == 303  # the name percent-encoded
                assert client.get(f"/api/search?q=rouge&token={TOKEN}").status_code == 303
                assert client.get("/api/search?q=rouge").status_code == 200  # the cookie
                assert client.get("/api/info", headers=BEARER).status_code == 200
        finally:
            for name in names:
                logging.getLogger(name).removeHandler(keep)
    logged = "\n".join(lines)
    assert "INFO:     127.0.0.1:" in logged and ' - "GET /?token=[redacted] HTTP/1.1" 303' in logged
    assert '"GET /?%74oken=[redacted]&q=x HTTP/1.1" 303' in logged
    assert '"POST /api/similar?token=[redacted] HTTP/1.1" 401' in logged
    assert "ASGI [" in logged and "'query_string': b'q=rouge&token=[redacted]'" in logged  # the traces
    for secret in (TOKEN, WRONG):
        assert secret not in logged


@pytest.mark.slow
def test_serve_bound_elsewhere_generates_a_token_and_prints_it_once(tiny_siglip_dir: Path) -> None:
    """``serve(store, host="0.0.0.0")`` from Python, without ``on_started``: the URL is printed with
    its generated token, which the server then asks for."""
    code = (
        "from siglip_retriever import MultimodalStore; from siglip_retriever.app import serve; "
        f"serve(MultimodalStore.in_memory(model={str(tiny_siglip_dir)!r}), host='0.0.0.0', port=0)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Serving at (http://127\.0\.0\.1:\d+/)\?token=([A-Za-z0-9_-]{43}) \(.*\)\n", line
        )
        assert match, line
        url, token = match.groups()
        assert httpx.get(url + "api/info", timeout=10).status_code == 401
        assert (
            httpx.get(url + "api/info", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
            == 200
        )
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert token not in out + err  # printed once, in the first line only


@pytest.mark.slow
def test_the_sign_in_page_in_a_browser(exposed: tuple[str, FastAPI]) -> None:
    """Headless Chromium: the sign-in box, a wrong then the right token, the page's cookie (not
    readable by scripts), and a link to ``?token=`` from another site (a ``SameSite=Strict``
    cookie is not sent after a cross-site redirect: the server goes on by a refresh of its own)."""
    url, _ = exposed
    errors: list[str] = []
    with sync_playwright() as playwright:
        chromium = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, as tests/app/test_browser.py
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text else None,
            )
            page.goto(url)
            expect(page).to_have_title("Sign in - SigLIP image search")
            page.fill("#token", WRONG)
            page.click("#signin button[type=submit]")
            expect(page.locator(".problem")).to_contain_text("not this server's token")
            page.fill("#token", TOKEN)
            page.click("#signin button[type=submit]")
            page.wait_for_url(url)  # the token left the address
            expect(page.locator("#store-info")).to_contain_text("2 pictures")
            (cookie,) = page.context.cookies()
            assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")
            assert page.evaluate("document.cookie") == ""  # scripts cannot read it

            linked = browser.new_context().new_page()
            link = f'<a id="go" href="{url}?q=rouge&token={TOKEN}">photos</a>'
            linked.route(
                "http://elsewhere.test/**", lambda route: route.fulfill(body=link, content_type="text/html")
            )
            linked.goto("http://elsewhere.test/")
            linked.click("#go")
            linked.wait_for_url(url + "?q=rouge")
            expect(linked.locator("#store-info")).to_contain_text("2 pictures")
            linked.reload()
            expect(linked.locator("#store-info")).to_contain_text("2 pictures")
            linked.go_back()
            assert linked.url == "http://elsewhere.test/"  # the address with the token is not in the history
        finally:
            browser.close()
    assert errors == [], errors  # no script errors, no CSP violation (the sign-in page's style has its hash)
