"""A model change under a running server: a client searches without pause while ``reindex`` runs
in another process and swaps, on a real Chroma server and a real web app (both on 127.0.0.1):
not one search fails, and the answers switch from the old model's to the new one's, none mixed;
rollback switches back; a reindex killed midway leaves the server answering, and a rerun resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import httpx
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import create_app
from siglip_retriever.app.server import BackgroundServer
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.tiny import build_checkpoint

COLLECTION = "reindex-live"
QUERY = "a red square"

Answer = tuple[tuple[str, float], ...]


def _pictures(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for n in range(count):
        Image.new("RGB", (40, 32), ((37 * n) % 256, (91 * n) % 256, (53 * n) % 256)).save(
            folder / f"p{n:03d}.png"
        )
    return folder


def _expected(model: str, folder: Path) -> Answer:
    """What a store of ``folder`` built with ``model`` answers."""
    store = MultimodalStore.in_memory(model=model)
    store.index_folder(folder, ocr="off")
    hits = Retriever(store).search_text(QUERY, k=5, mode="visual")
    return tuple((hit.id, round(hit.similarity, 4)) for hit in hits)


def _cli(chroma: tuple[str, int], *args: str) -> subprocess.Popen[str]:
    command = [str(Path(sys.executable).with_name("siglip-retriever"))]
    command += ["--host", chroma[0], "--port", str(chroma[1]), "--collection", COLLECTION, *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


class Searcher:
    """A client that searches without pause and keeps every answer, in order."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self.failures = url, [], []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                response = client.get("/api/search", params={"q": QUERY, "k": 5, "mode": "visual"})
                if response.status_code != 200:
                    self.failures.append((response.status_code, response.text))
                    continue
                hits = response.json()["hits"]
                self.answers.append(tuple((hit["id"], round(hit["similarity"], 4)) for hit in hits))

    def __enter__(self) -> Searcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def settle(self, count: int = 5) -> None:
        """Wait for ``count`` more answers."""
        start = len(self.answers)
        deadline = time.monotonic() + 30
        while len(self.answers) < start + count and time.monotonic() < deadline:
            time.sleep(0.02)


def _switched_once(answers: list[Answer], old: Answer, new: Answer) -> None:
    """Every answer is the old model's or the new one's, and once new, never old again."""
    kinds = ["old" if answer == old else "new" if answer == new else "mixed" for answer in answers]
    assert "mixed" not in kinds, [a for a, k in zip(answers, kinds, strict=True) if k == "mixed"][:2]
    assert kinds[0] == "old" and kinds[-1] == "new"
    assert kinds == sorted(kinds, key=lambda kind: kind == "new")  # no old answer after a new one


@pytest.fixture
def served(chroma_server: tuple[str, int], tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    models = {name: str(build_checkpoint(tmp_path / name, seed=seed)) for seed, name in enumerate("abc")}
    folder = _pictures(tmp_path / "pictures", 120)
    store = MultimodalStore.connect(*chroma_server, collection=COLLECTION, model=models["a"])
    store.index_folder(folder, ocr="off")
    with BackgroundServer(create_app(store)) as server:
        yield server.url, models, folder
    client = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    for collection in client.list_collections():
        if str(getattr(collection, "name", collection)).startswith(COLLECTION):
            client.delete_collection(str(getattr(collection, "name", collection)))


@pytest.mark.slow
def test_searches_never_fail_while_reindex_swaps_and_rolls_back(
    served: tuple[str, dict[str, str], Path], chroma_server: tuple[str, int]
) -> None:
    url, models, folder = served
    old, new = _expected(models["a"], folder), _expected(models["b"], folder)
    assert old != new
    with Searcher(url) as searcher:
        searcher.settle()
        report = json.loads(_finish(_cli(chroma_server, "reindex", "--model", models["b"], "--json")))
        assert (report["embedded"], report["failed"]) == (120, [])
        searcher.settle()
        swapped = len(searcher.answers)
        _finish(_cli(chroma_server, "reindex", "--rollback"))
        searcher.settle()
    assert searcher.failures == []
    _switched_once(searcher.answers[:swapped], old, new)
    _switched_once(searcher.answers[swapped - 1 :], new, old)  # rolled back: the old answers again


@pytest.mark.slow
def test_a_reindex_killed_midway_leaves_the_server_answering_and_a_rerun_resumes(
    served: tuple[str, dict[str, str], Path], chroma_server: tuple[str, int]
) -> None:
    url, models, folder = served
    old = _expected(models["a"], folder)
    client = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    building = _cli(chroma_server, "--batch-size", "2", "reindex", "--model", models["c"], "--no-progress")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once it has written part of the new collection
        names = [str(getattr(c, "name", c)) for c in client.list_collections()]
        target = f"{COLLECTION}__r1"
        if target in names and client.get_collection(target).count() >= 10:
            break
        time.sleep(0.01)
    building.send_signal(signal.SIGKILL)
    building.wait(timeout=30)
    assert client.get_collection(f"{COLLECTION}__r1").count() < 120  # killed midway
    with Searcher(url) as searcher:
        searcher.settle()
    assert searcher.failures == [] and set(searcher.answers) == {old}  # still the old model
    report = json.loads(_finish(_cli(chroma_server, "reindex", "--model", models["c"], "--json")))
    assert report["resumed"] >= 10 and report["resumed"] + report["embedded"] == 120
    new = _expected(models["c"], folder)
    with Searcher(url) as searcher:
        searcher.settle()
    assert set(searcher.answers) == {new}
