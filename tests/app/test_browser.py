"""End to end in headless Chromium: the search page on the demo store, served by ``siglip-retriever serve``.

Debian's ``chromium`` is driven by Playwright's Python package (no browser download). Screenshots
are saved to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page, expect, sync_playwright

from siglip_retriever.cli import main
from siglip_retriever.demo.data import caption, write_image_folder
from tests.documents import REPORT_PAGES, write_text_pdf
from tests.documents import Page as PdfPage
from tests.helpers import cli_server, photo_like

pytestmark = pytest.mark.slow  # a browser, the CLI indexing the demo store and a server process

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HELD_OUT_SEED = 4242  # pictures the demo model never saw
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _class(name: str | None) -> str:
    return "_".join((name or "").split("_")[:2])


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "the browser test needs Debian's chromium: apt-get install -y --no-install-recommends chromium"
        )
    return path


def _index(db: Path, folder: Path, *extra: str) -> None:
    """``siglip-retriever index FOLDER`` in this process, its store closed before a server opens it
    (the objects the command held may sit in reference cycles until a collection)."""
    options = ["--model", "demo", "--db", str(db), "--device", "cpu"]
    indexed = CliRunner().invoke(main, [*options, "index", str(folder), *extra])
    assert indexed.exit_code == 0, indexed.output
    del indexed
    gc.collect()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo store (2 held-out pictures per class), served on 127.0.0.1 by the CLI."""
    root = tmp_path_factory.mktemp("e2e")
    write_image_folder(root / "images", per_class=2, seed=HELD_OUT_SEED)
    _index(root / "db", root / "images")
    arguments = ["--db", str(root / "db"), "--device", "cpu", "serve", "--listen-port", "0"]
    with cli_server(arguments, first_line="Serving 48 pictures") as url:
        assert httpx.get(url + "health", timeout=10).json()["model"] == "demo"
        yield url, root / "images"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations


ALL_CARDS = "#results .card, #unlikely-results .card"  # the likely hits, then the folded ones


def _card_names(page: Page, cards: str = ALL_CARDS) -> list[str]:
    return page.locator(cards).evaluate_all("cards => cards.map(c => c.dataset.name)")


def test_french_query_then_similar_images(demo_server: tuple[str, Path], page: Page) -> None:
    url, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(url)
    expect(page.locator("#store-info")).to_contain_text("48 pictures")
    query = caption("circle", "red", "fr")
    assert query == "un cercle rouge"
    page.fill("#query", query)
    page.press("#query", "Enter")
    expect(page.locator("#status")).to_contain_text(query)
    cards = page.locator(ALL_CARDS)
    expect(cards).to_have_count(24)
    names = _card_names(page)
    assert _class(names[0]) == "red_circle", names[:5]
    assert [_class(n) for n in names[:2]] == ["red_circle", "red_circle"], names[:5]
    # the likely matches lead; the others (under 1 %) are folded under "N unlikely", closed
    likely, unlikely = page.locator("#results .card"), page.locator("#unlikely-results .card")
    shown, folded = likely.count(), unlikely.count()
    assert 2 <= shown < 24 and shown + folded == 24, (shown, folded)
    assert [_class(n) for n in _card_names(page, "#results .card")][:2] == ["red_circle", "red_circle"]
    expect(page.locator("#unlikely > summary")).to_contain_text(f"{folded} unlikely")
    expect(page.locator("#unlikely > summary")).to_contain_text("under 1 %")
    expect(unlikely.first).to_be_hidden()
    expect(page.locator("#status")).to_contain_text(f"{folded} unlikely (under 1 %) folded below")
    folded_scores = page.locator("#unlikely-results .card .score").all_text_contents()
    assert all(score.startswith(("<0.1", "0.")) for score in folded_scores), folded_scores
    first = cards.first
    expect(first.locator(".score")).to_contain_text("%")
    expect(first.locator("img")).to_have_js_property("complete", True)
    assert first.locator("img").evaluate("img => img.naturalWidth") > 0  # the thumbnail loaded
    assert "q=un+cercle+rouge" in page.url
    page.screenshot(path=str(ARTIFACTS / "app-search-fr.png"), full_page=False)
    page.click("#unlikely > summary")
    expect(unlikely.first).to_be_visible()

    clicked = names[0]
    first.click()
    expect(page.locator("#query-card")).to_be_visible()
    expect(page.locator("#query-label")).to_have_text(clicked)
    expect(page.locator("#status")).to_contain_text("similar")
    expect(page.locator("#results .card .score").first).to_contain_text("cos")
    similar = _card_names(page)
    assert len(similar) == 24
    expect(page.locator("#unlikely")).to_be_hidden()  # cosines: nothing to fold
    assert clicked not in similar
    assert _class(similar[0]) == "red_circle", similar[:5]
    page.screenshot(path=str(ARTIFACTS / "app-similar.png"), full_page=False)
    assert (ARTIFACTS / "app-search-fr.png").stat().st_size > 10_000

    page.check("#diverse")  # the checkboxes apply to text searches and similar searches alike
    page.fill("#query", query)
    page.press("#query", "Enter")
    expect(page.locator("#status")).to_contain_text("relevant and varied")
    expect(cards).to_have_count(24)
    cards.first.click()
    expect(page.locator("#status")).to_contain_text("similar to the one you clicked, relevant and varied")
    expect(cards).to_have_count(24)


def test_drop_an_image_and_zero_shot_tab(demo_server: tuple[str, Path], page: Page) -> None:
    url, images = demo_server
    page.goto(url)
    expect(page.locator("#store-info")).to_contain_text("pictures")
    dropped = images / "blue_star_001.png"
    page.evaluate(
        """async ([bytes, name]) => {
            const file = new File([new Uint8Array(bytes)], name, {type: "image/png"});
            const data = new DataTransfer();
            data.items.add(file);
            const options = {dataTransfer: data, bubbles: true, cancelable: true};
            window.dispatchEvent(new DragEvent("drop", options));
        }""",
        [list(dropped.read_bytes()), "dropped.png"],
    )
    expect(page.locator("#query-label")).to_have_text("dropped.png")
    expect(page.locator("#status")).to_contain_text("similar to dropped.png")
    names = _card_names(page)
    assert names[0] == "blue_star_001.png"  # the same picture, found by its pixels

    page.click("#tab-classify")
    expect(page.locator("#panel-classify")).to_be_visible()
    expect(page.locator("#panel-search")).to_be_hidden()
    page.set_input_files("#classify-file", str(images / "green_triangle_000.png"))
    expect(page.locator("#classify-preview")).to_be_visible()
    labels = [caption(shape, colour, "de") for shape, colour in [("triangle", "green"), ("circle", "red")]]
    labels.append(caption("star", "blue", "de"))
    page.fill("#labels", ", ".join(labels))
    page.fill("#template", "{}")
    page.click("#classify-form button[type=submit]")
    rows = page.locator("#classify-results li")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".label")).to_have_text(labels[0])
    expect(page.locator("#classify-status")).to_contain_text("independent probabilities")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-zero-shot.png"), full_page=False)


def test_the_page_shows_api_errors(demo_server: tuple[str, Path], page: Page) -> None:
    url, _ = demo_server
    page.goto(url)
    page.fill("#query", "x" * 600)
    page.press("#query", "Enter")
    expect(page.locator("#status.error")).to_contain_text("the limit is 500")
    expect(page.locator("#results .card")).to_have_count(0)


@pytest.fixture(scope="module")
def duplicates_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store of two photos, one with a smaller copy and the same bytes in another folder."""
    root = tmp_path_factory.mktemp("e2e-duplicates")
    (root / "photos").mkdir()
    (root / "backup").mkdir()
    picture = photo_like(11)
    picture.save(root / "photos" / "beach.jpg", quality=95)
    picture.resize((160, 120)).save(root / "photos" / "beach-small.png")
    shutil.copyfile(root / "photos" / "beach.jpg", root / "backup" / "IMG_0011.jpg")
    photo_like(12).save(root / "photos" / "forest.jpg", quality=95)
    _index(root / "db", root)
    arguments = ["--db", str(root / "db"), "--device", "cpu", "serve", "--listen-port", "0"]
    with cli_server(arguments, first_line="Serving 3 pictures") as url:
        yield url


def test_duplicates_tab_shows_groups_with_thumbnails(duplicates_server: str, page: Page) -> None:
    page.goto(duplicates_server)
    expect(page.locator("#store-info")).to_contain_text("3 pictures")
    page.click("#tab-duplicates")
    expect(page.locator("#panel-duplicates")).to_be_visible()
    expect(page.locator("#panel-search")).to_be_hidden()
    expect(page.locator("#duplicates-status")).to_contain_text("1 group among 3 pictures")
    cards = page.locator("#duplicates-results .card")
    expect(cards).to_have_count(3)
    expect(cards.first.locator(".score")).to_have_text("keep")
    expect(cards.last.locator(".name").first).to_have_text("beach-small.png")
    expect(cards.first.locator("img")).to_have_js_property("complete", True)
    assert cards.first.locator("img").evaluate("img => img.naturalWidth") > 0  # the thumbnail loaded
    with page.expect_response(lambda response: "max_bits=0" in response.url) as answer:
        page.fill("#max-bits", "0")
        page.click("#duplicates-form button[type=submit]")
    assert answer.value.ok
    expect(page.locator("#duplicates-status")).to_contain_text("among 3 pictures")
    assert cards.count() >= 2  # the same bytes at least (the resized copy may hash the same)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-duplicates.png"), full_page=False)


LONG_PAGE = PdfPage(
    (
        "Minutes of the harbour committee",
        "The committee met on Tuesday to review the budget of the coming year and the repairs",
        "of the old pier, which the storms of last winter damaged in several places along the",
        "eastern side. The lighthouse keeper asked for a new lamp and a radio before spring,",
        "and the members agreed to order both as soon as the regional grant is confirmed.",
        "The next meeting will discuss the ferry timetable and the parking near the market.",
    )
)
"""A page of many words: a card shows the ones around the query's word, not the whole page."""


@pytest.fixture(scope="module")
def documents_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A text PDF (the report, then a long page 5) and a few of the demo's photos, indexed without
    OCR (the PDF's text layer is what its pages say)."""
    root = tmp_path_factory.mktemp("e2e-documents")
    (root / "docs").mkdir()
    write_text_pdf(root / "docs" / "report.pdf", (*REPORT_PAGES, LONG_PAGE))
    write_image_folder(root / "photos", per_class=1, seed=HELD_OUT_SEED)
    _index(root / "db", root, "--ocr", "off")
    arguments = ["--db", str(root / "db"), "--device", "cpu", "serve", "--listen-port", "0"]
    with cli_server(arguments, first_line="Serving") as url:
        yield url


def test_words_are_highlighted_pages_shown_and_the_pdf_linked_at_its_page(
    documents_server: str, page: Page
) -> None:
    page.goto(documents_server)
    expect(page.locator("#store-info")).to_contain_text("pictures")
    page.fill("#query", "quarterly revenue")
    page.press("#query", "Enter")
    expect(page.locator("#status")).to_contain_text("quarterly revenue")
    first = page.locator("#results > li").first
    card = first.locator(".card")
    expect(card.locator(".name")).to_have_text("report.pdf · p. 2 (1)")  # page 2, labelled 1
    expect(card.locator(".why")).to_have_text("says it")
    says = card.locator(".says")
    expect(says).to_have_text("Quarterly revenue 2026 Revenue grew in every quarter")
    assert says.locator("mark").all_text_contents() == ["Quarterly", "revenue", "Revenue"]
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0  # the page, rendered
    link = first.locator("a.file-link")
    expect(link).to_have_text("Open the PDF at p. 2")
    href = link.evaluate("a => a.href")
    assert href.endswith("/file#page=2"), href
    pdf = httpx.get(href.split("#")[0], timeout=10)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    folded = page.locator("#unlikely-results .card")
    assert folded.count() > 0  # the photos and pages that neither show nor say it
    expect(page.locator("#unlikely > summary")).to_contain_text(f"{folded.count()} unlikely")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-search-pdf.png"), full_page=False)

    page.fill("#query", "lighthouse keeper")
    page.press("#query", "Enter")
    expect(page.locator("#status")).to_contain_text("lighthouse keeper")
    long_card = page.locator("#results .card", has_text="p. 5").first
    text = long_card.locator(".says").inner_text()
    assert text.startswith("…") and text.endswith("…"), text  # a window of the page's words
    assert "The lighthouse keeper asked" in text, text
    marks = long_card.locator(".says mark").all_text_contents()
    assert [m.lower() for m in marks] == ["lighthouse", "keeper"], marks
    assert long_card.locator(".says").get_attribute("title").startswith("Minutes of the harbour")
