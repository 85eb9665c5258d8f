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

from pathlib import Path

import chromadb
from chromadb.api.types import QueryResult
from chromadb.utils.data_loaders import ImageLoader
from example_setup import options, picture_files, probe_picture, scratch_pictures

from siglip_retriever import SiglipEmbeddingFunction

DEFAULT_QUERIES = ["un cercle rouge", "ein roter Kreis", "一个红色的圆形"]  # French, German, Chinese


def print_hits(found: QueryResult) -> None:
    """One line per hit of the first query: rank, id and cosine similarity."""
    distances = found["distances"] or [[]]
    for rank, (name, distance) in enumerate(zip(found["ids"][0], distances[0], strict=True), start=1):
        print(f"  {rank}. {name} cos={1 - distance:.3f}")


def main() -> None:
    parser = options(__doc__, k=(3, "results per query"))
    parser.add_argument("--query", action="append", help="text query, any language (repeatable)")
    parser.add_argument("--image", type=Path, help="query picture (default: a red circle of the folder)")
    args = parser.parse_args()
    queries = args.query or DEFAULT_QUERIES

    with scratch_pictures(args.images) as (folder, scratch):
        paths = picture_files(folder)
        client = chromadb.PersistentClient(
            str(scratch / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
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

        for query in queries:
            found = collection.query(query_texts=[query], n_results=args.k, include=["distances"])
            print(f"\ntext: {query}")
            print_hits(found)

        probe = probe_picture(args.image, paths)
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
