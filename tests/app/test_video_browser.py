"""End to end in headless Chromium: a video's moment found, shown with its frame and span, and played
from its start in the page's ``<video>`` (``#t=start,end``, served in byte ranges); a click on
another moment of the video plays that one. The clip is VP9 in WebM, which any Chromium plays;
the store is indexed and served by the CLI, as a person does it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from siglip_retriever.search.hits import format_span
from tests.app.test_browser import ARTIFACTS, browser, page  # noqa: F401 (the browser's fixtures)
from tests.helpers import cli_server, run_cli
from tests.videos import VP9_SCENES, Clip, write_shape_clip

pytestmark = pytest.mark.slow  # a browser, the CLI indexing a video and a server process

RED_SQUARE = VP9_SCENES[2]
TOLERANCE = 0.5
"""Seconds the video's position may be off the moment's start when it starts playing."""


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Clip]]:
    """A WebM clip of three scenes, indexed with the demo model, served on 127.0.0.1 by the CLI."""
    root = tmp_path_factory.mktemp("e2e-video")
    clip = write_shape_clip(root / "clips" / "shapes.webm", VP9_SCENES, codec="libvpx-vp9")
    options = ["--model", "demo", "--db", str(root / "db"), "--device", "cpu"]
    indexed = run_cli(*options, "index", str(root / "clips"))
    assert indexed.exit_code == 0, indexed.output
    del indexed
    gc.collect()  # the command's store is closed before the server opens it
    arguments = ["--db", str(root / "db"), "--device", "cpu", "serve", "--listen-port", "0"]
    with cli_server(arguments, first_line="Serving") as url:
        yield url, clip


def _until(condition: Callable[[], Any], seconds: float = 15.0) -> Any:
    """The first true value of ``condition()``, polled (the page's policy forbids the string
    evaluation Playwright's ``wait_for_function`` uses)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {condition()!r}")


def _video(tab: Page) -> dict[str, Any]:
    state: dict[str, Any] = tab.evaluate(
        """() => {
            const v = document.querySelector("#player-video");
            return {time: v.currentTime, paused: v.paused, ready: v.readyState, src: v.currentSrc,
                    attribute: v.getAttribute("src"), error: v.error && v.error.code,
                    seen: window.seen || []};
        }"""
    )
    return state


def _watch(tab: Page) -> None:
    """Record the video's position each time it starts playing (``window.seen``)."""
    tab.evaluate(
        """() => {
            window.seen = [];
            const v = document.querySelector("#player-video");
            v.addEventListener("playing", () => window.seen.push([v.currentTime, v.currentSrc]));
        }"""
    )


def _started(tab: Page, src_end: str) -> float:
    """The position at which the video started playing from ``...src_end``."""
    found = _until(lambda: [t for t, src in _video(tab)["seen"] if src.endswith(src_end)])
    return float(found[0])


def test_a_moment_plays_from_its_start_and_another_moment_is_a_click_away(
    video_server: tuple[str, Clip],
    page: Page,  # noqa: F811 (the fixture imported above)
) -> None:
    url, _clip = video_server
    hit = httpx.get(url + "api/search", params={"q": RED_SQUARE.caption}, timeout=30).json()["hits"][0]
    assert hit["kind"] == "video" and hit["start"] < RED_SQUARE.end and hit["end"] > RED_SQUARE.start, hit
    span = format_span(hit["start"], hit["end"])

    page.goto(url + "?q=" + RED_SQUARE.caption.replace(" ", "+"))
    moments = len(VP9_SCENES)
    expect(page.locator("#store-info")).to_contain_text(f"{moments} pictures ({moments} video moments)")
    card = page.locator("#results .card").first
    expect(card).to_have_attribute("data-name", "shapes.webm")
    expect(card.locator(".span")).to_have_text(f"▶ {span}")
    others = len(hit["moments"])
    assert others == len(VP9_SCENES) - 1, hit["moments"]
    expect(card.locator(".name")).to_have_text(f"shapes.webm · {span} (+{others} moments)")
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0  # the moment's frame

    _watch(page)
    card.click()
    expect(page.locator("#player")).to_be_visible()
    expect(page.locator("#player-title")).to_have_text(f"shapes.webm · {span}")
    fragment = hit["file_url"].split("#")[1]
    assert fragment == f"t={hit['start']:g},{hit['end']:g}"
    started = _started(page, hit["file_url"])
    assert abs(started - hit["start"]) <= TOLERANCE, (started, hit["start"])
    state = _until(lambda: (s := _video(page))["ready"] >= 2 and s["time"] > started and s)  # it plays
    assert state["error"] is None and state["src"].endswith(hit["file_url"]), state
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-video-moment.png"), full_page=False)

    # the video's moments in time order, the one playing marked; a click plays another one
    buttons = page.locator("#player-moments button")
    starts = sorted([hit["start"], *(moment["start"] for moment in hit["moments"])])
    expect(buttons).to_have_count(len(starts))
    assert [float(s) for s in buttons.evaluate_all("bs => bs.map(b => b.dataset.start)")] == starts
    current = page.locator('#player-moments button[aria-current="true"]')
    expect(current).to_have_text(span)
    (second,) = [moment for moment in hit["moments"] if moment["start"] == starts[1]]
    buttons.nth(1).click()
    second_span = format_span(second["start"], second["end"])
    expect(current).to_have_text(second_span)
    expect(page.locator("#player-title")).to_have_text(f"shapes.webm · {second_span}")
    started = _started(page, f"#t={second['start']:g},{second['end']:g}")
    assert abs(started - second["start"]) <= TOLERANCE, (started, second["start"])
    # it plays that moment and stops at its end
    stopped = _until(lambda: (s := _video(page))["paused"] and s["time"] > started and s, seconds=20)
    assert abs(stopped["time"] - second["end"]) <= TOLERANCE, (stopped, second)

    page.click("#player-close")
    expect(page.locator("#player")).to_be_hidden()
    assert _video(page)["attribute"] is None  # the video let go


def test_the_video_is_served_in_byte_ranges_as_the_browser_asks(video_server: tuple[str, Clip]) -> None:
    url, clip = video_server
    hit = httpx.get(url + "api/search", params={"q": RED_SQUARE.caption}, timeout=30).json()["hits"][0]
    file_url = url.rstrip("/") + hit["file_url"].split("#")[0]
    data = Path(clip.path).read_bytes()
    part = httpx.get(file_url, headers={"range": "bytes=100-"}, timeout=10)
    assert (part.status_code, part.headers["content-type"]) == (206, "video/webm")
    assert part.headers["content-range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    assert part.content == data[100:]
