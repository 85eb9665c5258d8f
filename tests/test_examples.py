"""Every script in examples/ runs as a user would run it, on the demo model, and finds the right pictures.

Each example runs in a subprocess (``python examples/X.py --model demo --device cpu ...``) in a
temporary directory, offline, and its printed lines are checked for the expected result: a red
circle asked for in French, German or Chinese comes first, the chat model of the RAG chain got
the red circles' pictures, and so on. Passing an exit code is not enough.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each example runs in a child process on the demo model: 3 to 5 s apiece

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = 20231127  # the seed the examples draw their pictures with: one the demo model never saw
HIT = re.compile(r"^\s+(\d+)\. (\S+) (?:cos|score)=(-?[0-9.]+)")
FINGERPRINT = re.compile(r"sha256 ([0-9a-f]{12})")


def run_example(script: str, tmp_path: Path, *args: str) -> str:
    """Run an example on the demo model; return its stdout (fails with its stderr if it fails)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TMPDIR": str(tmp_path),
        "PYTHONIOENCODING": "utf-8",
    }
    command = [sys.executable, str(EXAMPLES / script), "--model", "demo", "--device", "cpu", *args]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300
    )
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def sections(stdout: str) -> dict[str, list[tuple[int, str, float]]]:
    """Ranked hits (``  1. red_circle_000.png cos=0.91``) grouped under the line before them."""
    grouped: dict[str, list[tuple[int, str, float]]] = {}
    header = ""
    for line in stdout.splitlines():
        hit = HIT.match(line)
        if hit:
            grouped.setdefault(header, []).append((int(hit[1]), hit[2], float(hit[3])))
        elif line.strip():
            header = line.strip()
    return grouped


def names(hits: list[tuple[int, str, float]]) -> list[str]:
    return [name for _, name, _ in hits]


def is_red_circle(name: str) -> bool:
    return Path(name).name.startswith("red_circle_")


def demo_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The examples' default pictures, written here, and each file's fingerprint -> file name."""
    from siglip_retriever.demo import write_image_folder

    folder = tmp_path / "shapes"
    written = write_image_folder(folder, per_class=2, seed=SEED)
    prints = {hashlib.sha256(path.read_bytes()).hexdigest()[:12]: path.name for path, _, _ in written}
    return folder, prints


def test_examples_are_all_tested() -> None:
    tested = {"langchain_multimodal_rag", "llamaindex_multimodal", "langgraph_image_search_node"}
    tested |= {"chroma_native", "zero_shot", "image_similarity"}
    assert {path.stem for path in EXAMPLES.glob("*.py")} - {"example_setup"} == tested


def test_langchain_rag_chain_sends_the_red_circles_to_the_chat_model(tmp_path: Path) -> None:
    folder, prints = demo_folder(tmp_path)
    out = run_example("langchain_multimodal_rag.py", tmp_path, "--images", str(folder), "-k", "2")

    sources = re.findall(r"^\s+source (\d+): (\S+) p=([0-9.]+)$", out, re.MULTILINE)
    assert [int(rank) for rank, _, _ in sources] == [1, 2], out
    assert all(is_red_circle(name) for _, name, _ in sources), out
    assert all(0.0 <= float(p) <= 1.0 for _, _, p in sources), out
    answer = next(line for line in out.splitlines() if line.startswith("answer: "))
    assert "I received 2 image blocks" in answer, out
    received = [prints[fingerprint] for fingerprint in FINGERPRINT.findall(answer)]
    assert received == [name for _, name, _ in sources], out  # the retrieved pictures, in order


def test_llamaindex_index_retrieves_by_text_and_image_and_answers(tmp_path: Path) -> None:
    folder, prints = demo_folder(tmp_path)
    out = run_example(
        "llamaindex_multimodal.py", tmp_path, "--images", str(folder), "--query", "ein roter Kreis", "-k", "2"
    )
    found = sections(out)

    by_text = found["text -> image: 'ein roter Kreis'"]
    assert all(is_red_circle(name) for name in names(by_text)), out
    by_image = found["image -> image: red_circle_000.png"]
    assert names(by_image) == ["red_circle_000.png", "red_circle_001.png"], out
    assert by_image[0][2] == pytest.approx(1.0, abs=1e-3)  # the query picture itself
    answer = next(line for line in out.splitlines() if line.strip().startswith("answer: "))
    received = [prints[fingerprint] for fingerprint in FINGERPRINT.findall(answer)]
    assert "I received 2 images" in answer, out
    assert sorted(received) == ["red_circle_000.png", "red_circle_001.png"], out
    sources = re.findall(r"^\s+source: (\S+) score=", out, re.MULTILINE)
    assert sorted(sources) == sorted(received), out


def test_langgraph_search_node_puts_red_circles_in_the_state(tmp_path: Path) -> None:
    out = run_example("langgraph_image_search_node.py", tmp_path, "--query", "一个红色的圆形")

    assert "node search -> documents" in out, out
    assert "node describe -> answer" in out, out
    documents = re.findall(r"^\s+state document (\d+): (\S+) p=([0-9.]+)$", out, re.MULTILINE)
    # k is 4, but only the two red circles reach the default --min-probability of 0.05
    assert [int(rank) for rank, _, _ in documents] == [1, 2], out
    assert all(is_red_circle(name) and float(p) > 0.5 for _, name, p in documents), out
    assert "answer: found 2 pictures: red_circle_" in out, out


def test_langgraph_routes_to_not_found_when_no_picture_is_likely(tmp_path: Path) -> None:
    out = run_example("langgraph_image_search_node.py", tmp_path, "--min-probability", "0.9999")

    assert "node search -> documents" in out, out
    assert "node not_found -> answer" in out, out
    assert "state document" not in out, out
    assert "answer: no picture matches well enough" in out, out


def test_chroma_native_finds_red_circles_in_three_languages_and_by_image(tmp_path: Path) -> None:
    out = run_example("chroma_native.py", tmp_path)
    found = sections(out)

    assert re.search(r"^added 48 pictures from ", out, re.MULTILINE), out
    for query in ("un cercle rouge", "ein roter Kreis", "一个红色的圆形"):
        hits = found[f"text: {query}"]
        assert len(hits) == 3, out
        assert is_red_circle(hits[0][1]), out
        assert hits[0][2] >= hits[1][2] >= hits[2][2], out
    by_image = found["image: red_circle_000.png"]
    assert by_image[0][1] == "red_circle_001.png", out  # the query picture itself is filtered out
    assert "red_circle_000.png" not in names(by_image), out


def zero_shot_blocks(stdout: str) -> dict[str, dict[str, object]]:
    """Per picture: its ranked ``(label, percent)`` lines, top label, sum and labels above 0.5."""
    blocks: dict[str, dict[str, object]] = {}
    for block in stdout.split("\nimage: ")[1:]:
        name = block.split(" ", 1)[0]
        top = re.search(r"^top: (.+) p=([0-9.]+)$", block, re.MULTILINE)
        total = re.search(r"^sum of probabilities: ([0-9.]+)$", block, re.MULTILINE)
        above = re.search(r"^labels above 0.5: (.+)$", block, re.MULTILINE)
        assert top is not None and total is not None and above is not None, stdout
        blocks[name] = {
            "kind": block.split("(", 1)[1].split(" ", 1)[0],
            "ranked": re.findall(r"^\s+([0-9.]+)% that the picture is '(.+)'$", block, re.MULTILINE),
            "top": top[1],
            "sum": float(total[1]),
            "above": above[1],
        }
    return blocks


def test_zero_shot_picks_the_right_label_with_independent_probabilities(tmp_path: Path) -> None:
    out = run_example("zero_shot.py", tmp_path)
    blocks = zero_shot_blocks(out)

    assert set(blocks) == {"red_circle.png", "purple_star.png"}, out
    circle, star = blocks["red_circle.png"], blocks["purple_star.png"]
    assert circle["kind"] == star["kind"] == "sigmoid", out
    assert circle["top"] == "a red circle", out
    assert circle["above"] == "a red circle", out
    ranked = circle["ranked"]
    assert isinstance(ranked, list) and len(ranked) == 5, out
    assert ranked[0] == (ranked[0][0], "a red circle") and float(ranked[0][0]) > 90, out
    # No label names a purple star: every probability is low on its own, so they sum to about 0,
    # where a softmax would still hand out 1 among the labels.
    assert star["above"] == "none", out
    assert isinstance(star["sum"], float) and star["sum"] < 0.5, out
    assert "Each probability is independent" in out, out


def test_image_similarity_neighbours_are_of_the_query_class(tmp_path: Path) -> None:
    out = run_example("image_similarity.py", tmp_path, "-k", "3")
    hits = sections(out)["query: red_circle_000.png"]

    assert [rank for rank, _, _ in hits] == [1, 2, 3], out
    assert hits[0][1] == "red_circle_001.png", out
    assert "red_circle_000.png" not in names(hits), out  # not the query itself
    assert hits[0][2] >= hits[1][2] >= hits[2][2], out
