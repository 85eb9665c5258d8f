"""What pictures and PDF pages say, through the framework adapters: LangChain documents and LlamaIndex
nodes of a PDF page carry its words in their text, and ``source``/``page``/``page_label`` (LangChain)
and ``file_path``/``page_label`` (LlamaIndex) as those frameworks' PDF readers name them; a PDF
entry's picture is its page rendered (or its figure), never the PDF's bytes.

A store of the demo model over a text PDF (tests/documents.py: its page 2 says "Quarterly revenue
2026" and is labelled "1") and the demo's photos, indexed without OCR (the PDF's text layer is its
words).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import ImageNode, MetadataMode
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.integrations.langchain import SiglipImageRetriever, SiglipVectorStore
from siglip_retriever.integrations.llama_index import SiglipImageNodeRetriever
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.fingerprints import hash_distance, rgb_fingerprint
from tests.documents import write_photos, write_text_pdf

QUERY = "quarterly revenue"
REVENUE_PAGE = 2  # the report's page that says "Quarterly revenue 2026" (labelled "1")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalStore]:
    root = tmp_path_factory.mktemp("words")
    (root / "docs").mkdir()
    write_text_pdf(root / "docs" / "report.pdf")
    write_photos(root / "photos")
    store = MultimodalStore(root / "db", model="demo")
    report = store.index_folder(root, ocr="off")
    assert not report.failed, report.failed
    yield store
    store.close()


def _pdf(store: MultimodalStore) -> str:
    (path,) = {item.metadata["source"] for item in store.get() if "source" in item.metadata}
    return str(path)


def _png(data: str) -> Image.Image:
    picture = Image.open(io.BytesIO(base64.b64decode(data)))
    assert picture.format == "PNG"
    return picture


def _check_page_document(doc: Document, pdf: str) -> None:
    assert doc.metadata["source"] == pdf
    assert doc.metadata["page"] == REVENUE_PAGE  # from 1, as the issue asks (PyPDFLoader: from 0)
    assert doc.metadata["page_label"] == "1"
    assert doc.metadata["part"] == "page"
    assert doc.metadata["matched"] in ("says", "both")
    assert "revenue" in doc.metadata["words"]
    assert doc.page_content.startswith(pdf + "\n\n")
    assert "Quarterly revenue 2026" in doc.page_content  # the page's words, for the LLM
    assert doc.metadata["says"] in doc.page_content


def test_langchain_documents_of_a_pdf_page_carry_its_words_and_page(store: MultimodalStore) -> None:
    pdf = _pdf(store)
    expected = [hit.id for hit in Retriever(store).search_text(QUERY, k=3)]
    retriever = SiglipImageRetriever(store=store, k=3)
    documents = retriever.invoke(QUERY)
    assert [doc.id for doc in documents] == expected
    _check_page_document(documents[0], pdf)
    vectors = SiglipVectorStore(store)
    for found in (
        vectors.similarity_search(QUERY, k=3, kind="image"),
        vectors.as_retriever(search_kwargs={"kind": "image", "k": 3}).invoke(QUERY),
        [doc for doc, _ in vectors.similarity_search_with_relevance_scores(QUERY, k=3, kind="image")],
    ):
        assert [doc.id for doc in found] == expected  # the words count in the vector store too
        _check_page_document(found[0], pdf)
    photo = next(doc for doc in documents if "source" not in store.get([str(doc.id)])[0].metadata)
    assert photo.metadata["source"] == photo.metadata["uri"]  # every file's document names it
    assert "page" not in photo.metadata


def test_langchain_sends_a_pdf_entry_s_picture_not_the_pdf(store: MultimodalStore) -> None:
    documents = SiglipImageRetriever(store=store, k=1, include_image_base64=True).invoke(QUERY)
    assert documents[0].metadata["image_mime_type"] == "image/png"
    page = _png(documents[0].metadata["image_base64"])
    stored = store.get([str(documents[0].id)])[0].metadata
    assert page.size == (stored["width"], stored["height"])  # the page as indexing rendered it
    figures = SiglipImageRetriever(store=store, k=2, include_image_base64=True, where={"part": "figure"})
    for doc in figures.invoke("a red circle"):
        figure = _png(doc.metadata["image_base64"]).convert("RGB")
        assert doc.metadata["part"] == "figure"
        assert hash_distance(rgb_fingerprint(figure), doc.metadata["phash"]) <= 4  # that figure


def test_llama_index_nodes_of_a_pdf_page_carry_file_path_page_label_and_words(
    store: MultimodalStore,
) -> None:
    pdf = _pdf(store)
    expected = [hit.id for hit in Retriever(store).search_text(QUERY, k=3)]
    nodes = SiglipImageNodeRetriever(store, k=3).retrieve(QUERY)
    assert [n.node.node_id for n in nodes] == expected
    node = nodes[0].node
    assert isinstance(node, ImageNode)
    assert node.metadata["file_path"] == pdf
    assert node.metadata["file_name"] == "report.pdf"
    assert node.metadata["page_label"] == "1"
    assert node.metadata["page"] == REVENUE_PAGE
    assert "Quarterly revenue 2026" in node.text
    llm_view = node.get_content(metadata_mode=MetadataMode.LLM)
    assert llm_view.count("Quarterly revenue 2026") == 1  # the words once: in the text, not again
    assert "page_label: 1" in llm_view and f"file_path: {pdf}" in llm_view
    assert node.image_path is None  # the PDF is no picture: the node carries its page instead
    assert node.image_mimetype == "image/png"
    assert _png(node.image or "").size == (node.metadata["width"], node.metadata["height"])
    assert node.resolve_image().read(4) == b"\x89PNG"
    photos = [n.node for n in nodes if "source" not in n.node.metadata]
    assert photos, "the query also finds photos"
    for photo in photos:
        assert isinstance(photo, ImageNode)
        assert photo.image_path == photo.metadata["file_path"] == photo.metadata["uri"]
        assert photo.metadata["file_name"] == Path(photo.image_path).name


def test_a_visual_search_shows_no_words(store: MultimodalStore) -> None:
    documents = SiglipImageRetriever(store=store, k=3, mode="visual").invoke(QUERY)
    assert all(doc.metadata["says"] is None and doc.metadata["matched"] is None for doc in documents)
    assert all("\n\n" not in doc.page_content for doc in documents)
