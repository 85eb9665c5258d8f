"""The report's output formats (compare/report.py): names checked, png only where matplotlib is."""

from __future__ import annotations

import pytest

from siglip_retriever.compare.report import check_formats
from siglip_retriever.errors import ConfigurationError, MissingDependencyError
from tests.helpers import hide_module


def test_output_formats_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_formats("table, markdown,json,csv,png,md") == ["table", "md", "json", "csv", "png"]
    with pytest.raises(ConfigurationError, match="unknown format 'pdf'"):
        check_formats("md,pdf")
    hide_module(monkeypatch, "matplotlib")
    with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[compare\]"):
        check_formats(["png"])
    assert check_formats(["json"]) == ["json"]
