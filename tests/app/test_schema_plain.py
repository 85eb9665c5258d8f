"""The web API against a plain Schemathesis run (``st run URL/openapi.json --checks all``), no hooks.

tests/app/test_fuzz.py fuzzes with the project's hooks (stored ids and real pictures among the
generated values, and the search layer deciding which search requests are valid). Here nothing
helps: Schemathesis reads the OpenAPI document alone, in every phase, with every check, against a
real server on 127.0.0.1, as anyone pointing it at a running ``serve`` would.

Every failure it finds must be one of the two kinds that no JSON Schema can rule out, each
checked here independently of the server's answer:

- an ``image`` part that is not a picture at all (the document says a non-empty picture file;
  whether bytes decode as a picture is for a decoder to say), answered ``422 invalid_image``;
- search options that are each valid but refused together (``fetch_k`` under ``k``, a threshold
  that cannot apply to the search's pairs, ``where`` text that is not a JSON object), answered
  ``422 invalid_request``: the search layer's own check (:func:`tests.app.fuzz_hooks.refused_together`,
  only called here to judge the answers; the run does not load the hooks) refuses them too.

Anything else (a server error, an answer its document does not declare, a schema-valid request
refused for another reason, a schema-invalid one accepted) fails the test. The OpenAI-compatible
routes must pass with no failure at all.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, UnidentifiedImageError

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.app.fuzz_hooks import SEARCH_QUERY_KINDS, refused_together
from tests.app.schemathesis_runs import recorded_requests, run_schemathesis
from tests.helpers import colour_pictures

SEED = 20260105
MAX_EXAMPLES = 25
"""Test cases per operation and phase."""
UPLOADS = ("POST /api/similar", "POST /api/classify")


def _plain_run(url: str, folder: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``st run`` with every check and no config or hooks, and what it recorded of each request."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCHEMATHESIS_")}
    env.pop("PYTHONPATH", None)
    # run outside the repository: no schemathesis.toml is found, so nothing of the project's is loaded
    result = run_schemathesis(url, folder, env, seed=SEED, max_examples=MAX_EXAMPLES)
    return result, list(recorded_requests(folder / "report"))


def _part_bytes(value: Any) -> bytes:
    """A generated multipart part as the bytes sent: text as UTF-8, bytes as recorded (base64)."""
    if isinstance(value, dict) and "$base64" in value:
        return base64.b64decode(value["$base64"])
    return str(value).encode("utf-8", "surrogatepass")


def _is_picture(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False
    return True


def _why_refused(request: dict[str, Any]) -> str | None:
    """Which kind of request no JSON Schema can rule out this one is, if it is one; else ``None``."""
    response = request["response"]
    body = json.loads(base64.b64decode(response["content"]["$base64"])) if response.get("content") else {}
    case, operation = request["case"], request["operation"]
    if response.get("status_code") != 422:
        return None
    if body.get("error") == "invalid_image" and operation in UPLOADS:
        image = (case.get("body") or {}).get("image")
        return (
            "an image part that is no picture"
            if image is not None and not _is_picture(_part_bytes(image))
            else None
        )
    kind = SEARCH_QUERY_KINDS.get(case["path"])
    if body.get("error") == "invalid_request" and kind and refused_together(case.get("query") or {}, kind):
        return "search options refused together"
    return None


@pytest.mark.slow
def test_a_plain_schemathesis_run_finds_only_what_no_schema_can_say(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    colour_pictures(tmp_path / "photos", ("red", "green", "blue"))
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(tmp_path / "photos")
    store.add_texts(["a note, not a picture"])
    with BackgroundServer(create_app(store)) as server:
        started = time.monotonic()
        result, requests = _plain_run(server.url, tmp_path)
        seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert requests, f"schemathesis recorded no request:\n{output[-5000:]}"
    statuses = {request["operation"]: Counter[int]() for request in requests}
    kinds: Counter[tuple[str, str]] = Counter()
    unexplained = []
    for request in requests:
        statuses[request["operation"]][request["response"].get("status_code", 0)] += 1
        for check in request["failed"]:
            code = check["failure_info"]["failure"]["code"]
            why = _why_refused(request) if code == "ST202" else None
            if why is None:
                unexplained.append((code, request["operation"], request["case"], request["response"]))
            else:
                kinds[(request["operation"], why)] += 1
    print(
        f"plain schemathesis: {len(requests)} requests in {seconds:.0f} s; failures no schema can rule out:"
    )
    for (operation, why), count in sorted(kinds.items()):
        print(f"  {operation}: {count} x {why}")
    assert not unexplained, f"failures of another kind:\n{unexplained[:5]}\n{output[-10000:]}"
    assert "Traceback" not in output
    if not kinds:
        assert result.returncode == 0, output[-10000:]
    for operation in ("POST /v1/embeddings", "GET /v1/models", "GET /v1/models/{model}"):
        assert statuses[operation][200], f"{operation} never answered 200: {statuses[operation]}"
    assert not {operation for operation, _ in kinds if operation.startswith(("POST /v1", "GET /v1"))}
