"""The bundled demo: synthetic multilingual shapes data and the tiny SigLIP trained on it.

- :mod:`siglip_retriever.demo.data` draws pictures of coloured shapes and captions them in
  English, French, German, Spanish, Chinese, Arabic and Russian, deterministically from a seed.
- :mod:`siglip_retriever.demo.train` trains the tiny SigLIP shipped in ``demo/model`` (the
  ``"demo"`` preset) on that data with the sigmoid loss.

Importing this package is cheap: it loads neither torch nor transformers.

Example:
    >>> from siglip_retriever.demo import COLOURS, SHAPES, caption
    >>> len(SHAPES) * len(COLOURS)
    24
    >>> caption("star", "red", "fr")
    'une étoile rouge'
"""

from __future__ import annotations

from siglip_retriever.demo.data import (
    CLASSES,
    COLOURS,
    LANGUAGES,
    SHAPES,
    Sample,
    caption,
    caption_corpus,
    class_captions,
    generate_dataset,
    num_templates,
    render,
    write_image_folder,
)

__all__ = [
    "CLASSES",
    "COLOURS",
    "LANGUAGES",
    "SHAPES",
    "Sample",
    "caption",
    "caption_corpus",
    "class_captions",
    "generate_dataset",
    "num_templates",
    "render",
    "write_image_folder",
]
