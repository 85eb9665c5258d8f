"""Plain chromadb with SigLIP: pictures stored by uri, searched by text in any language and by picture.

What it shows, with no framework and no wrapper store:

- a chromadb collection made with ``SiglipEmbeddingFunction`` (cosine space by default) and
  chromadb's own ``ImageLoader``, filled with ``collection.add(ids=..., uris=...)``: Chroma
  reads each file and SigLIP embeds it;
- ``collection.query(query_texts=[...])`` with queries in several languages, all against the same
  picture vectors (a multilingual SigLIP needs no translation step);
- ``collection.query(query_uris=[...])``: pictures like a given one, with a ``where`` filter that
  leaves the query picture itself out.

Scores are cosine similarities (``1 - distance`` in cosine space).

Run it offline on the bundled demo model (pictures of coloured shapes are generated on the fly):

    python examples/chroma_native.py --model demo

or on your own pictures with the multilingual SigLIP from the model hub:

    python examples/chroma_native.py --images ~/Pictures --query "un chat" --query "eine Katze" --query "猫"
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import chromadb
from chromadb.api.types import QueryResult
from chromadb.utils.data_loaders import ImageLoader

from siglip_retriever import SiglipEmbeddingFunction
from siglip_retriever.demo import write_image_folder

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
DEFAULT_QUERIES = ["un cercle rouge", "ein roter Kreis", "一个红色的圆形"]  # French, German, Chinese


def print_hits(found: QueryResult) -> None:
    """One line per hit of the first query: rank, id and cosine similarity."""
    distances = found["distances"] or [[]]
    for rank, (name, distance) in enumerate(zip(found["ids"][0], distances[0], strict=True), start=1):
        print(f"  {rank}. {name} cos={1 - distance:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="multilingual", help="preset, hub id or checkpoint directory")
    parser.add_argument("--images", type=Path, help="folder of pictures (default: generate demo shapes)")
    parser.add_argument("--query", action="append", help="text query, any language (repeatable)")
    parser.add_argument("--image", type=Path, help="query picture (default: a red circle of the folder)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("-k", type=int, default=3, help="results per query")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.images or Path(scratch) / "shapes"
        if args.images is None:  # pictures of coloured shapes the demo model knows
            write_image_folder(folder, per_class=2, seed=20231127)
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)

        client = chromadb.PersistentClient(
            str(Path(scratch) / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        collection = client.create_collection(
            "pictures",
            embedding_function=SiglipEmbeddingFunction(args.model, device=args.device),
            data_loader=ImageLoader(),  # turns uris into pixels for the embedding function
        )
        for start in range(0, len(paths), 64):  # in batches: Chroma loads a batch's pixels at once
            batch = paths[start : start + 64]
            collection.add(
                ids=[str(p.relative_to(folder)) for p in batch],
                uris=[str(p) for p in batch],
                metadatas=[{"file": p.name} for p in batch],
            )
        print(f"added {collection.count()} pictures from {folder}")

        for query in args.query or DEFAULT_QUERIES:
            found = collection.query(query_texts=[query], n_results=args.k, include=["distances"])
            print(f"\ntext: {query}")
            print_hits(found)

        probe: Path = args.image or next((p for p in paths if p.name == "red_circle_000.png"), paths[0])
        found = collection.query(
            query_uris=[str(probe)],
            n_results=args.k,
            where={"file": {"$ne": probe.name}},  # not the query picture itself
            include=["distances"],
        )
        print(f"\nimage: {probe.name}")
        print_hits(found)


if __name__ == "__main__":
    main()
