"""The docs site builds with ``mkdocs build --strict``, offline, and a broken link fails the build.

One build of the real site (mkdocs.yml, docs/) into a temporary directory, checked for what the
hooks generate (docs/hooks/: the HTTP reference and its ``openapi.json``, the internal modules,
the search options table) and for nothing loaded from another host; then one build of a copy of
the docs with a deliberately broken link, which must fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs.hooks import load_hook
from tests.docs.snippets import ROOT

pytestmark = pytest.mark.slow


def nav_pages(nav: list[Any]) -> list[str]:
    """The Markdown files of mkdocs.yml's ``nav``, in order."""
    found: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        found += nav_pages(value) if isinstance(value, list) else [value]
    return found


def mkdocs_build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project at ``project`` (its mkdocs.yml) into ``site``."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_MKDOCS_2_WARNING="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built once for this module's tests."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = mkdocs_build(ROOT, out)
    assert result.returncode == 0, result.stderr[-6000:]
    return out


def test_build_strict_passes(site: Path) -> None:
    """Every page of the nav is built, and the site has its search index."""
    nav = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))["nav"])
    assert len(nav) == len(set(nav)) > 20
    for page in nav:
        folder = "" if page == "index.md" else page.removesuffix(".md").removesuffix("/index")
        assert (site / folder / "index.html").is_file(), page
    assert (site / "search" / "search_index.json").is_file()


def test_nothing_loads_from_another_host(site: Path) -> None:
    """No web font, script or stylesheet from a CDN: the site reads offline."""
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""")
    offenders = [
        str(page.relative_to(site)) for page in site.rglob("*.html") if remote.search(page.read_text("utf-8"))
    ]
    assert not offenders
    assert not any("fonts.googleapis" in page.read_text("utf-8") for page in site.rglob("*.html"))


def test_http_reference_is_generated(site: Path) -> None:
    """The HTTP API page is the app's OpenAPI document, which is also downloadable."""
    document = json.loads((site / "reference" / "openapi.json").read_text("utf-8"))
    page = (site / "reference" / "http" / "index.html").read_text("utf-8")
    assert document["paths"]
    for path in document["paths"]:
        assert path in page, path
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name.lower().replace("_", "-")}"' in page, name


def test_cli_reference_has_every_command(site: Path) -> None:
    """The command-line reference is the click group's whole command tree."""
    from siglip_retriever.cli import main

    page = (site / "reference" / "cli" / "index.html").read_text("utf-8")
    for name in main.commands:
        assert f"siglip-retriever {name}" in page, name


def test_internal_modules_page_lists_every_internal_module(site: Path) -> None:
    """Every module that is not public is on the internal modules' page, by itself."""
    internal_modules = load_hook("internal_modules").internal_modules
    page = (site / "reference" / "python" / "internal" / "index.html").read_text("utf-8")
    modules = internal_modules()
    assert "siglip_retriever.store.indexing" in modules and "siglip_retriever.cli" not in modules
    for module in modules:
        assert f'id="{module}"' in page, module


def test_search_options_marker_is_replaced(site: Path) -> None:
    """The search options table replaces its marker wherever a page has one."""
    from siglip_retriever.search.options import option_specs

    marked = [page for page in (ROOT / "docs").rglob("*.md") if "<!-- search-options -->" in page.read_text()]
    for source in marked:
        built = site / source.relative_to(ROOT / "docs").with_suffix("") / "index.html"
        html = built.read_text("utf-8")
        assert "<!-- search-options -->" not in html
        for spec in option_specs():
            assert f"<code>{spec.name}</code>" in html, (source, spec.name)


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """A copy of the docs with one link to a page that does not exist: ``--strict`` refuses it."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("mkdocs.yml", "BENCHMARKS.md", "CHANGELOG.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "docs", project / "docs")
    (project / "src").symlink_to(ROOT / "src")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text("utf-8") + "\nSee [the missing guide](guides/no-such-page.md).\n")
    result = mkdocs_build(project, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "contains a link 'guides/no-such-page.md', but the target is not found" in output
    assert re.search(r"Aborted with \d+ warnings? in strict mode", output), output[-2000:]
