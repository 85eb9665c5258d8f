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

import argparse
import tempfile
from pathlib import Path

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.demo import write_image_folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="multilingual", help="preset, hub id or checkpoint directory")
    parser.add_argument("--images", type=Path, help="folder of pictures (default: generate demo shapes)")
    parser.add_argument("--image", type=Path, help="query picture (default: a red circle of the folder)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("-k", type=int, default=3, help="number of similar pictures")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.images or Path(scratch) / "shapes"
        if args.images is None:  # pictures of coloured shapes the demo model knows
            write_image_folder(folder, per_class=2, seed=20231127)
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
