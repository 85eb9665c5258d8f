"""MkDocs hook: links in the repository's root files, included into the site, point into the site.

docs/benchmarks.md and docs/changelog.md include BENCHMARKS.md and CHANGELOG.md (pymdownx.snippets).
Those files are read on GitHub too, from the repository's root, so their links are relative to
it: ``docs/guides/scale.md``, ``CHANGELOG.md``. Once included, the same link must be relative to
the including page. This hook adds a Markdown preprocessor that runs right after the snippets
are included and rewrites such links: ``docs/X`` becomes ``X`` relative to the page,
``BENCHMARKS.md`` and ``CHANGELOG.md`` their pages in the site. Any other link is left to
``mkdocs build --strict`` to check (``README.md`` is not part of the site: link the guide instead).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

ROOT_PAGES = {"BENCHMARKS.md": "benchmarks.md", "CHANGELOG.md": "changelog.md"}
LINK = re.compile(r"\]\((?P<target>(?:docs/[^)\s]+|(?:BENCHMARKS|CHANGELOG)\.md(?:#[^)\s]*)?))\)")

current_page = {"src_uri": "index.md"}
"""The page being rendered (set by :func:`on_page_markdown`, read by the preprocessor)."""


def site_target(target: str, page_uri: str) -> str:
    """A repository-relative link ``target`` as a link from the page ``page_uri`` of docs/."""
    path, hash_, anchor = target.partition("#")
    in_docs = path.removeprefix("docs/") if path.startswith("docs/") else ROOT_PAGES[path]
    relative = posixpath.relpath(in_docs, posixpath.dirname(page_uri) or ".")
    return relative + hash_ + anchor


class RootLinks(Preprocessor):
    """Rewrites the repository-relative links of the current page's lines."""

    def run(self, lines: list[str]) -> list[str]:
        page = current_page["src_uri"]
        return [LINK.sub(lambda m: f"]({site_target(m.group('target'), page)})", line) for line in lines]


class RootLinksExtension(Extension):
    """Registers :class:`RootLinks` after pymdownx.snippets (priority 32) has included the files."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(RootLinks(md), "root_links", 31)


def on_config(config: Any, **kwargs: Any) -> Any:
    """Add the extension."""
    config.markdown_extensions.append(RootLinksExtension())
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Remember which page is being rendered."""
    current_page["src_uri"] = page.file.src_uri
    return markdown
