"""The bundled demo: synthetic multilingual shapes data and the tiny SigLIP trained on it.

- :mod:`siglip_retriever.demo.captions` names the shapes, colours and languages and captions
  every class in English, French, German, Spanish, Chinese, Arabic and Russian;
- :mod:`siglip_retriever.demo.pictures` draws a picture of one coloured shape;
- :mod:`siglip_retriever.demo.data` makes data sets of them, deterministically from a seed;
- :mod:`siglip_retriever.demo.train` trains the tiny SigLIP shipped in ``demo/model`` (the
  ``"demo"`` preset) on that data with the sigmoid loss, and
  :mod:`siglip_retriever.demo.evaluation` measures a checkpoint on held-out pictures.

Importing this package is cheap: it loads neither torch nor transformers.

Example:
    >>> from siglip_retriever.demo import COLOURS, SHAPES, caption
    >>> len(SHAPES) * len(COLOURS)
    24
    >>> caption("star", "red", "fr")
    'une étoile rouge'
"""

from __future__ import annotations

from siglip_retriever.demo.captions import (
    CLASSES,
    COLOURS,
    LANGUAGES,
    SHAPES,
    canonical_text,
    caption,
    caption_corpus,
    class_captions,
    labelled_captions,
    num_templates,
)
from siglip_retriever.demo.data import Sample, generate_dataset, labelled_pictures, write_image_folder
from siglip_retriever.demo.pictures import render

__all__ = [
    "CLASSES",
    "COLOURS",
    "LANGUAGES",
    "SHAPES",
    "Sample",
    "canonical_text",
    "caption",
    "caption_corpus",
    "class_captions",
    "generate_dataset",
    "labelled_captions",
    "labelled_pictures",
    "num_templates",
    "render",
    "write_image_folder",
]
