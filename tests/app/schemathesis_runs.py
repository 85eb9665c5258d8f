"""Schemathesis's CLI (``st run``) against a live server, and what its NDJSON report recorded.

The harness of tests/app/test_fuzz.py (with the project's hooks and settings) and
tests/app/test_schema_plain.py (with neither): both run the CLI in a subprocess, as anyone would
against a running ``serve``, one worker, no example database, and read back each request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


def run_schemathesis(
    url: str,
    folder: Path,
    env: dict[str, str],
    *,
    seed: int,
    max_examples: int,
    options: Sequence[str] = (),
    settings: Sequence[str] = (),
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``st [settings] run URL/openapi.json --checks all ... [options]`` in ``folder``, its NDJSON
    report (and any other of ``options``' ``--report``) in ``folder / "report"``."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        *settings,
        "run",
        url + "openapi.json",
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report-dir",
        str(folder / "report"),
        "--no-color",
        *(options or ["--report", "ndjson"]),
    ]
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def recorded_requests(report: Path) -> Iterator[dict[str, Any]]:
    """Each request of a run's NDJSON report: its ``operation`` (``"GET /api/search"``), ``case``,
    ``response`` (``status_code``, ``content`` as ``{"$base64": ...}``) and ``failed`` checks."""
    for path in report.glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            recorder = (json.loads(line).get("ScenarioFinished") or {}).get("recorder") or {}
            for case_id, interaction in (recorder.get("interactions") or {}).items():
                case = recorder["cases"][case_id]["value"]
                checks = (recorder.get("checks") or {}).get(case_id, [])
                yield {
                    "operation": f"{case['method']} {case['path']}",
                    "case": case,
                    "response": interaction.get("response") or {},
                    "failed": [check for check in checks if check["status"] == "failure"],
                }


def statuses(report: Path) -> dict[str, Counter[int]]:
    """The status codes each operation answered in a run."""
    found: dict[str, Counter[int]] = defaultdict(Counter)
    for request in recorded_requests(report):
        found[request["operation"]][request["response"].get("status_code", 0)] += 1
    return found
