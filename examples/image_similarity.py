"""Image similarity search with SigLIP: the pictures closest to a given one.

What it shows: a folder indexed into a ``MultimodalStore`` (an embedded Chroma collection, cosine
space), then ``Retriever.image_to_images``: the query picture is embedded by SigLIP's vision
tower and compared with every stored picture. Image-image pairs are ranked by cosine similarity:
SigLIP's sigmoid was trained on image-text pairs, so it gives no calibrated probability for two
pictures. The query picture itself is left out when it is in the store.

Run it offline on the bundled demo model (pictures of coloured shapes are generated on the fly):

    python examples/image_similarity.py --model demo

or on your own pictures with the multilingual SigLIP from the model hub:

    python examples/image_similarity.py --images ~/Pictures --image ~/Pictures/cat.jpg
"""

from __future__ import annotations

from pathlib import Path

from example_setup import options, scratch_pictures

from siglip_retriever import MultimodalStore, Retriever


def main() -> None:
    parser = options(__doc__, k=(3, "number of similar pictures"))
    parser.add_argument("--image", type=Path, help="query picture (default: a red circle of the folder)")
    args = parser.parse_args()

    with scratch_pictures(args.images) as (folder, _):
        store = MultimodalStore.in_memory(model=args.model, device=args.device)  # or MultimodalStore(path)
        report = store.index_folder(folder)
        print(f"indexed {folder}: {report.summary()}")

        probe = args.image or folder / "red_circle_000.png"
        if not probe.is_file():
            parser.error(f"no picture at {probe}: pass --image")
        print(f"query: {probe.name}")
        for hit in Retriever(store).image_to_images(probe, k=args.k):
            print(f"  {hit.rank}. {Path(hit.uri or hit.id).name} cos={hit.similarity:.3f}")


if __name__ == "__main__":
    main()
