"""Every search option, through every front-end: the same meaning and the same errors.

The test walks the fields of the one definition (:func:`~siglip_retriever.search.options.option_specs`)
and, for each, a case that changes the result: the reference is
:meth:`Retriever.search_text <siglip_retriever.search.retriever.Retriever.search_text>` (or
``search_image``), and each front-end must give the same hits, in the same order:

- text queries: ``Retriever`` (per call and as defaults), ``SiglipVectorStore`` (per call and
  ``as_retriever(search_kwargs=...)``), ``SiglipImageRetriever`` (fields and per call),
  ``SiglipImageNodeRetriever``, the CLI's ``search`` and ``GET /api/search``;
- image queries: ``Retriever``, ``SiglipVectorStore.similarity_search_by_image``,
  ``SiglipImageNodeRetriever``, the CLI's ``similar``, ``POST /api/similar`` (an upload: the
  picture itself counts) and ``GET /api/images/{id}/similar``.

A field without a case fails the test, and so does a front-end that does not take it. Then every
wrong request gets the same message from Python (``ConfigurationError``), the CLI (``error:``,
exit code 2) and the API (``422``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import pytest
from fastapi.testclient import TestClient
from llama_index.core.schema import QueryBundle
from PIL import Image

from siglip_retriever import (
    MultimodalStore,
    SiglipImageNodeRetriever,
    SiglipImageRetriever,
    SiglipVectorStore,
)
from siglip_retriever.app import Limits, create_app
from siglip_retriever.demo import write_image_folder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.options import MAX_K, SearchKwargs, SearchOptions, option_specs
from siglip_retriever.search.retriever import Retriever
from tests.helpers import run_cli
from tests.search.wordy import words

QUERY = "a red circle"
CAPTIONS = ["a red circle", "un cercle rouge", "a blue square", "ein grüner Stern", "a yellow triangle"]
SAYS = {
    "yellow_triangle_000.png": ("Red circle sale", "today only"),
    "green_star_000.png": ("Quarterly revenue",),
}
"""Two pictures that say something (so searches are hybrid by default, and ``mode`` matters)."""

TEXT_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # field: (the options without it, the field's value), for a text query
    "k": ({}, {"k": 2}),
    "kind": ({}, {"kind": "any"}),
    "where": ({}, {"where": {"width": 80}}),
    "min_probability": ({"k": 8}, {"min_probability": 0.5}),
    "min_similarity": ({"kind": "text"}, {"min_similarity": 0.9}),
    "diverse": ({"k": 6}, {"diverse": True}),
    "fetch_k": ({"k": 6, "diverse": True}, {"fetch_k": 8}),
    "lambda_mult": ({"k": 6, "diverse": True}, {"lambda_mult": 0.0}),
    "collapse_duplicates": ({"k": 6}, {"collapse_duplicates": True}),
    "all_moments": ({}, {"all_moments": True}),  # the video's two moments, not its best one
    "mode": ({}, {"mode": "text"}),  # by what pictures say: only the two with words
}
IMAGE_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # the same, for an image query (the red circle)
    "k": ({}, {"k": 2}),
    "kind": ({}, {"kind": "text"}),
    "where": ({}, {"where": {"width": 80}}),
    "min_probability": ({"kind": "text"}, {"min_probability": 0.5}),
    "min_similarity": ({}, {"min_similarity": 0.9}),
    "diverse": ({"k": 6}, {"diverse": True}),
    "fetch_k": ({"k": 6, "diverse": True}, {"fetch_k": 6}),
    "lambda_mult": ({"k": 6, "diverse": True}, {"lambda_mult": 0.0}),
    "collapse_duplicates": ({"k": 10}, {"collapse_duplicates": True}),
    "all_moments": ({}, {"all_moments": True}),
    "mode": ({}, {"mode": "text"}),  # pictures whose words match the query picture
}
ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"k": 0}, "k must be a positive integer, not 0"),
    ({"k": MAX_K + 1}, f"k must be at most {MAX_K}, not {MAX_K + 1}"),
    ({"diverse": True, "k": 5, "fetch_k": 3}, "fetch_k (3) must be at least k (5): MMR picks k hits"),
    ({"fetch_k": 30}, "fetch_k and lambda_mult apply to diverse (MMR) searches; add diverse=True"),
    ({"lambda_mult": 0.3}, "fetch_k and lambda_mult apply to diverse (MMR) searches; add diverse=True"),
    ({"diverse": True, "lambda_mult": 1.5}, "lambda_mult must be a number between 0 and 1, not 1.5"),
    ({"min_probability": 1.5}, "min_probability must be a number between 0 and 1, not 1.5"),
    ({"kind": "text", "min_similarity": -2.0}, "min_similarity must be a number between -1 and 1, not -2.0"),
    ({"min_similarity": 0.5}, "min_similarity applies to image-image and text-text pairs"),
    ({"kind": "text", "min_probability": 0.5}, "min_probability applies to image-text pairs"),
    ({"kind": "video"}, "kind must be 'image', 'text' or 'any', not 'video'"),
    ({"mode": "sideways"}, "mode must be 'visual', 'text' or 'hybrid', not 'sideways'"),
    ({"kind": "text", "mode": "hybrid"}, "mode='hybrid' applies to searches of images"),
]
"""Wrong requests (with a text query) and the words every front-end answers them with."""
CANNOT_APPLY = ("applies to",)
"""Errors of a threshold given for a search it cannot apply to: given as a default (to a
constructor) it is left out where it cannot apply, as the retriever documents, so only the
per-call front-ends refuse it."""


@dataclass
class World:
    """A store of the demo's pictures (one of them twice: itself and a larger copy), two of them
    with words, two moments of a video that look like red pictures, and captions, on disk, and
    everything that searches it."""

    store: MultimodalStore
    cli: list[str]
    client: TestClient
    picture: Path
    picture_id: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("everywhere")
    folder = root / "pictures"
    write_image_folder(folder, per_class=1, seed=7)
    picture = folder / "red_circle_000.png"
    with Image.open(picture) as image:
        image.resize((80, 80)).save(folder / "red_circle_copy.png")  # a duplicate, 80 wide
    with Image.open(folder / "red_square_000.png") as image:
        image.resize((72, 72)).save(folder / "red_square_copy.png")  # one more, for image queries
    store = MultimodalStore(root / "db", model="demo")
    report = store.index_folder(folder, ocr="off")
    assert not report.failed
    store.add_texts(CAPTIONS)
    ids = {Path(item.uri).name: item.id for item in store.get() if item.uri}
    store.set_words([ids[name] for name in SAYS], [words(lines) for lines in SAYS.values()], source="ocr")
    _add_moments(store, root / "clip.mp4", [ids["red_circle_copy.png"], ids[picture.name]])
    picture_id = ids[picture.name]
    client = TestClient(create_app(store, limits=Limits(max_k=MAX_K)), base_url="http://127.0.0.1")
    yield World(store, ["--model", "demo", "--db", str(root / "db")], client, picture, picture_id)
    store.close()


def _add_moments(store: MultimodalStore, video: Path, like: list[str]) -> None:
    """Two moments of one video, each a little off a stored picture (so searches meet both)."""
    rng = np.random.default_rng(3)
    vectors = np.stack(
        [item.vector for item in store.get(like, include_vectors=True) if item.vector is not None]
    )
    vectors = vectors + rng.normal(0, 0.01, vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    key = "vid-" + "c" * 32
    metadatas: list[dict[str, Any]] = [
        {
            "kind": "video",
            "uri": str(video),
            "source": str(video),
            "start": float(4 * n),
            "end": float(4 * n + 4),
            "frame": float(4 * n + 1),
            "moment": n + 1,
            "duration": 8.0,
            "codec": "h264",
            "width": 64,
            "height": 64,
        }
        for n in range(2)
    ]
    store.upsert_vectors([f"{key}-m1", f"{key}-m2"], vectors, metadatas)


# -- the front-ends, each as "options -> ids of the hits, in order" ----------------------------------

Search = Callable[[World, dict[str, Any]], list[str]]


def _langchain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options under the LangChain vector store's names (``filter`` for ``where``)."""
    return {("filter" if name == "where" else name): value for name, value in options.items()}


def _cli_args(options: Mapping[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        else:
            args += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    return args


def _query_params(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: json.dumps(value)
        if isinstance(value, dict)
        else str(value).lower()
        if isinstance(value, bool)
        else value
        for name, value in options.items()
    }


def _cli(world: World, command: list[str]) -> list[str]:
    result = run_cli(*world.cli, *command, "--json")
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


def _api(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


TEXT_FRONT_ENDS: dict[str, Search] = {
    "Retriever defaults": lambda w, o: [h.id for h in Retriever(w.store, **o).search_text(QUERY)],
    "SiglipVectorStore": lambda w, o: [
        str(d.id)
        for d in SiglipVectorStore(w.store).similarity_search(QUERY, **_langchain({"kind": "image", **o}))
    ],
    "SiglipVectorStore.as_retriever": lambda w, o: [
        str(d.id)
        for d in SiglipVectorStore(w.store)
        .as_retriever(search_kwargs=_langchain({"kind": "image", **o}))
        .invoke(QUERY)
    ],
    "SiglipImageRetriever fields": lambda w, o: [
        str(d.id) for d in SiglipImageRetriever(store=w.store, **o).invoke(QUERY)
    ],
    "SiglipImageRetriever per call": lambda w, o: [
        str(d.id) for d in SiglipImageRetriever(store=w.store).invoke(QUERY, **o)
    ],
    "SiglipImageNodeRetriever": lambda w, o: [
        n.node.node_id for n in SiglipImageNodeRetriever(w.store, **o).retrieve(QUERY)
    ],
    "CLI search": lambda w, o: _cli(w, ["search", QUERY, *_cli_args(o)]),
    "GET /api/search": lambda w, o: _api(
        w.client.get("/api/search", params={"q": QUERY, **_query_params(o)})
    ),
}

IMAGE_FRONT_ENDS: dict[str, Search] = {
    "Retriever defaults": lambda w, o: [h.id for h in Retriever(w.store, **o).search_image(w.picture)],
    "SiglipImageNodeRetriever": lambda w, o: [
        n.node.node_id
        for n in SiglipImageNodeRetriever(w.store, **o).retrieve(QueryBundle("", image_path=str(w.picture)))
    ],
    "CLI similar": lambda w, o: _cli(w, ["similar", str(w.picture), *_cli_args(o)]),
    "GET /api/images/{id}/similar": lambda w, o: _api(
        w.client.get(f"/api/images/{w.picture_id}/similar", params=_query_params(o))
    ),
}


def test_every_field_has_a_case_and_a_typed_keyword() -> None:
    names = [spec.name for spec in option_specs()]
    assert set(TEXT_CASES) == set(IMAGE_CASES) == set(names), "give every search option a case here"
    assert list(get_type_hints(SearchKwargs)) == names  # the typed keywords are the fields, in order
    assert all(spec.help and spec.type for spec in option_specs())


@pytest.mark.slow
@pytest.mark.parametrize("field", [spec.name for spec in option_specs()])
def test_a_text_query_s_option_means_the_same_everywhere(world: World, field: str) -> None:
    base, value = TEXT_CASES[field]
    base = {"k": 4, **base}  # the front-ends' own default k differ (test_defaults_are_declared...)
    options = {**base, **value}
    reference = Retriever(world.store)
    expected = [hit.id for hit in reference.search_text(QUERY, **options)]
    assert expected, f"{field}: the case finds nothing"
    assert expected != [hit.id for hit in reference.search_text(QUERY, **base)], f"{field} changes nothing"
    for name, search in TEXT_FRONT_ENDS.items():
        assert search(world, options) == expected, f"{name} takes {field} otherwise"


@pytest.mark.slow
@pytest.mark.parametrize("field", [spec.name for spec in option_specs()])
def test_an_image_query_s_option_means_the_same_everywhere(world: World, field: str) -> None:
    base, value = IMAGE_CASES[field]
    base = {"k": 4, **base}
    options = {**base, **value}
    reference = Retriever(world.store)
    expected = [hit.id for hit in reference.search_image(world.picture, **options)]
    assert expected, f"{field}: the case finds nothing"
    assert expected != [hit.id for hit in reference.search_image(world.picture, **base)], (
        f"{field} changes nothing"
    )
    for name, search in IMAGE_FRONT_ENDS.items():
        assert search(world, options) == expected, f"{name} takes {field} otherwise"
    # an upload, and LangChain's similarity_search_by_image, keep the picture itself among the hits
    upload = [hit.id for hit in reference.search_image(world.picture, exclude_self=False, **options)]
    files = {"image": ("query.png", world.picture.read_bytes(), "image/png")}
    posted = world.client.post("/api/similar", params=_query_params(options), files=files)
    assert _api(posted) == upload, f"POST /api/similar takes {field} otherwise"
    vectors = SiglipVectorStore(world.store).similarity_search_by_image(world.picture, **_langchain(options))
    assert [str(doc.id) for doc in vectors] == upload, f"similarity_search_by_image takes {field} otherwise"


@pytest.mark.slow
@pytest.mark.parametrize(("options", "message"), ERRORS, ids=[str(options) for options, _ in ERRORS])
def test_a_wrong_request_gets_the_same_words_everywhere(
    world: World, options: dict[str, Any], message: str
) -> None:
    retriever = Retriever(world.store)
    python: list[Callable[[], object]] = [
        lambda: retriever.search_text(QUERY, **options),
        lambda: SiglipVectorStore(world.store).similarity_search(
            QUERY, **_langchain({"kind": "image", **options})
        ),
        lambda: SiglipImageRetriever(store=world.store).invoke(QUERY, **options),
    ]
    if not any(words in message for words in CANNOT_APPLY):
        python += [
            lambda: Retriever(world.store, **options).search_text(QUERY),
            lambda: SiglipImageRetriever(store=world.store, **options).invoke(QUERY),
            lambda: SiglipImageNodeRetriever(world.store, **options).retrieve(QUERY),
        ]
    for call in python:
        with pytest.raises(ConfigurationError) as raised:
            call()
        assert str(raised.value).startswith(message)
    cli = run_cli(*world.cli, "search", QUERY, *_cli_args(options))
    assert cli.exit_code == 2, cli.output
    assert cli.stderr.startswith(f"error: {message}") and len(cli.stderr.strip().splitlines()) == 1
    response = world.client.get("/api/search", params={"q": QUERY, **_query_params(options)})
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(message)


def test_a_server_s_lower_limit_reads_the_same(world: World) -> None:
    client = TestClient(create_app(world.store, limits=Limits(max_k=50)), base_url="http://127.0.0.1")
    body = client.get("/api/search", params={"q": QUERY, "k": 51}).json()
    assert body == {"error": "k_too_large", "message": "k must be at most 50, not 51", "limit": 50}
    body = client.get("/api/search", params={"q": QUERY, "diverse": "true", "fetch_k": 60}).json()
    assert body["error"] == "k_too_large" and body["message"] == "fetch_k must be at most 50, not 60"


def test_defaults_are_declared_next_to_the_definition(world: World) -> None:
    """Each front-end's own defaults are the ones declared in search/options.py."""
    from siglip_retriever.search.options import CLI_DEFAULTS, DEFAULTS, VECTOR_STORE_DEFAULTS, WEB_DEFAULTS

    assert len(Retriever(world.store).search_text(QUERY)) == DEFAULTS.k
    assert len(SiglipImageRetriever(store=world.store).invoke(QUERY)) == DEFAULTS.k
    assert len(SiglipImageNodeRetriever(world.store).retrieve(QUERY)) == DEFAULTS.k
    docs = SiglipVectorStore(world.store).similarity_search(QUERY)
    assert len(docs) == VECTOR_STORE_DEFAULTS.k and all(str(doc.id).startswith("txt-") for doc in docs)
    assert len(_cli(world, ["search", QUERY])) == CLI_DEFAULTS.k
    assert len(_api(world.client.get("/api/search", params={"q": QUERY}))) == WEB_DEFAULTS.k
    assert SearchOptions() == DEFAULTS
