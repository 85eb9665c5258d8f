"""Zero-shot image classification with SigLIP: one independent probability per label.

What it shows: ``ZeroShotClassifier`` scores a picture against labels that are only written down.
SigLIP was trained with a sigmoid on each image-text pair, so each label gets its own probability
``sigmoid(logit_scale * cos + logit_bias)``: they are independent and need not sum to 1 (a
picture can match several labels, or none). CLIP's softmax would force them to sum to 1. Labels
may have several names, for example translations, which are averaged into one label vector.

Run it offline on the bundled demo model (it draws a red circle and a purple star to classify):

    python examples/zero_shot.py --model demo

or on your own picture with the multilingual SigLIP from the model hub:

    python examples/zero_shot.py --image cat.jpg --labels "a cat,a dog,a sofa"
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from example_setup import options

from siglip_retriever import ZeroShotClassifier
from siglip_retriever.demo import render

# label -> names in several languages; each label gets one probability
DEFAULT_LABELS = {
    "a red circle": ["a red circle", "un cercle rouge", "ein roter Kreis"],
    "a blue circle": ["a blue circle", "un cercle bleu", "ein blauer Kreis"],
    "a red square": ["a red square", "un carré rouge", "ein rotes Quadrat"],
    "a green triangle": ["a green triangle", "un triangle vert", "ein grünes Dreieck"],
    "a yellow star": ["a yellow star", "une étoile jaune", "ein gelber Stern"],
}


def main() -> None:
    parser = options(__doc__, images=False)
    parser.add_argument("--image", type=Path, action="append", help="picture to classify (repeatable)")
    parser.add_argument("--labels", help="comma-separated labels (default: five coloured shapes)")
    parser.add_argument(
        "--template", default="{}", help="prompt with {} for the label, e.g. 'a photo of {}.'"
    )
    args = parser.parse_args()

    labels = [name.strip() for name in args.labels.split(",")] if args.labels else DEFAULT_LABELS
    classifier = ZeroShotClassifier(labels, templates=[args.template], model=args.model, device=args.device)

    with tempfile.TemporaryDirectory() as scratch:
        images = args.image
        if not images:  # a red circle, and a purple star that none of the default labels names
            images = [Path(scratch) / "red_circle.png", Path(scratch) / "purple_star.png"]
            render("circle", "red", rng=1).save(images[0])
            render("star", "purple", rng=2).save(images[1])
        results = classifier.classify(images)

    for image, result in zip(images, results, strict=True):
        print(f"\nimage: {image.name} ({result.score_kind} probabilities)")
        for label, probability in result.ranked():
            print(f"  {probability:6.1%} that the picture is '{label}'")
        label, probability = result.top
        print(f"top: {label} p={probability:.3f}")
        print(f"sum of probabilities: {sum(result.probabilities.values()):.3f}")
        print(f"labels above 0.5: {', '.join(result.above(0.5)) or 'none'}")
    if classifier.score_kind == "sigmoid":
        print("\nEach probability is independent: a picture can match several labels, or none.")


if __name__ == "__main__":
    main()
