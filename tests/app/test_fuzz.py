"""The web API against an outside client: Schemathesis (``st run``) fuzzes a live server on 127.0.0.1.

Every check, a fixed seed, a time budget: the server must answer every generated request (valid or
not) as its OpenAPI document says, with no server error. The store holds real pictures and a text,
and tests/app/fuzz_hooks.py puts their ids in some generated ``image_id`` values and real picture
files in some generated ``image`` uploads, so that the id and upload routes are fuzzed past their
``404`` and ``invalid_image`` answers too.

To fuzz a server of your own the same way (``siglip-retriever serve``), from the repository's root::

    PYTHONPATH=. SIGLIP_FUZZ_IDS=<id>,<id> SIGLIP_FUZZ_PICTURES=<picture file> \\
        st --config-file tests/app/schemathesis.toml run http://127.0.0.1:8765/openapi.json \\
        --checks all --seed 20240611 --max-examples 30 --max-time 90 --continue-on-failure
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.app.schemathesis_runs import run_schemathesis, statuses
from tests.helpers import colour_pictures

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20240611
MAX_EXAMPLES = 30
"""Test cases per operation and phase, in each turn of the fuzzing."""
MAX_TIME = 90
"""Seconds for the whole run; fuzzing repeats with new cases until they are spent."""
REACHED = (
    "GET /api/images/{image_id}",
    "GET /api/images/{image_id}/thumbnail",
    "GET /api/images/{image_id}/similar",
    "POST /api/similar",
    "POST /api/classify",
    "POST /v1/embeddings",
    "GET /v1/models/{model}",
)
"""The operations that must have answered 200 at least once: fuzzed past their errors."""


@pytest.mark.slow
def test_the_api_holds_against_schemathesis(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    colour_pictures(tmp_path / "photos", ("red", "green", "blue"))
    upload = tmp_path / "upload.jpg"
    Image.new("RGB", (64, 48), "orange").save(upload, quality=90)
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(tmp_path / "photos")
    store.add_texts(["a note, not a picture"])
    ids = [item.id for item in store.get()]
    assert len(ids) == 4
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SCHEMATHESIS_")},
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "SIGLIP_FUZZ_IDS": ",".join(ids),
        "SIGLIP_FUZZ_PICTURES": os.pathsep.join([str(tmp_path / "photos" / "red.png"), str(upload)]),
    }
    with BackgroundServer(create_app(store)) as server:
        started = time.monotonic()
        result = run_schemathesis(
            server.url,
            tmp_path,
            env,
            seed=SEED,
            max_examples=MAX_EXAMPLES,
            settings=["--config-file", str(CONFIG)],
            options=["--max-time", str(MAX_TIME), "--continue-on-failure", "--report", "junit,ndjson"],
            timeout=MAX_TIME + 180,
        )
        seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    answered = statuses(tmp_path / "report")
    probes = [operation for operation, counts in answered.items() if set(counts) == {405}]
    print(f"schemathesis ran {seconds:.0f} s; cases and status codes by operation:")
    for operation, counts in sorted(answered.items()):
        if operation not in probes:
            print(f"  {operation}: {sum(counts.values())} cases, {dict(sorted(counts.items()))}")
    print(f"  and {len(probes)} requests with undeclared methods, all answered 405")
    assert result.returncode == 0, f"schemathesis failed after {seconds:.0f} s:\n{output[-20000:]}"
    unreached = [operation for operation in REACHED if not answered[operation][200]]
    assert not unreached, f"never answered 200 (the stored ids or pictures did not get through): {unreached}"
