"""The two kinds of evaluation data a comparison runs on, read from the user's files.

- **Image-caption pairs**, a CSV (with a header) or JSON Lines file, one caption per row:
  ``image`` (a path, relative to the file's folder or absolute), ``caption`` and, optionally,
  ``language`` (any code, such as ``en``; ``und`` when missing). An image may have several
  captions, in several languages: give it one row each. Accepted column aliases: ``path``,
  ``image_path``, ``file`` for the image; ``text`` for the caption; ``lang`` for the language.
- **A folder of class sub-folders**: each sub-folder's images (searched recursively) belong to
  the class named after it (``golden_retriever`` reads as "golden retriever"). An optional
  ``labels.json`` in the folder gives the labels' names per language,
  ``{"golden_retriever": {"en": "a golden retriever", "de": ["ein Golden Retriever", ...]}}``;
  each language is then evaluated on its own, and a class without a name in a language falls
  back to its folder's name.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever.compare.datasets import load_pairs
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (8, 8), "red").save(folder / "red.png")
    >>> _ = (folder / "pairs.csv").write_text(
    ...     "image,caption,language\\nred.png,a red square,en\\nred.png,un carré rouge,fr\\n"
    ... )
    >>> pairs = load_pairs(folder / "pairs.csv")
    >>> len(pairs.images), pairs.languages
    (1, ['en', 'fr'])
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siglip_retriever.errors import ConfigurationError

__all__ = [
    "CAPTION_KEYS",
    "IMAGE_KEYS",
    "IMAGE_SUFFIXES",
    "LANGUAGE_KEYS",
    "UNDETERMINED",
    "ClassesDataset",
    "PairsDataset",
    "load_classes",
    "load_pairs",
    "read_rows",
    "row_field",
]

UNDETERMINED = "und"
"""The language of captions and labels whose language is not given (BCP 47's "undetermined")."""

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
"""File suffixes counted as images in a class folder (compared case-insensitively)."""

IMAGE_KEYS = ("image", "image_path", "path", "file", "filename")
"""The column names a pairs file may give the image path under (the first one given is used)."""
CAPTION_KEYS = ("caption", "text")
"""The column names of the caption."""
LANGUAGE_KEYS = ("language", "lang")
"""The column names of the caption's language (optional)."""
_MAX_LISTED = 5


@dataclass(frozen=True)
class PairsDataset:
    """Images and their captions, for text-to-image and image-to-text retrieval.

    Attributes:
        images: the distinct images, as absolute paths, in order of first appearance.
        captions: every caption.
        caption_image: for each caption, the index of its image in ``images``.
        caption_language: for each caption, its language.
        source: where the data came from.

    Example:
        >>> pairs = PairsDataset(["/a.png"], ["a cat", "un chat"], [0, 0], ["en", "fr"])
        >>> pairs.languages, pairs.captions_in("fr")
        (['en', 'fr'], [1])
    """

    images: list[str]
    captions: list[str]
    caption_image: list[int]
    caption_language: list[str]
    source: str = ""

    def __post_init__(self) -> None:
        if not self.images or not self.captions:
            raise ConfigurationError(f"the pairs {self.source or 'dataset'} hold no image-caption pair")
        if not len(self.captions) == len(self.caption_image) == len(self.caption_language):
            raise ConfigurationError("captions, caption_image and caption_language must be equally long")
        if min(self.caption_image) < 0 or max(self.caption_image) >= len(self.images):
            raise ConfigurationError("a caption points to an image index that does not exist")

    @property
    def languages(self) -> list[str]:
        """The captions' languages, sorted."""
        return sorted(set(self.caption_language))

    def captions_in(self, language: str) -> list[int]:
        """Indices of the captions in ``language``."""
        return [i for i, lang in enumerate(self.caption_language) if lang == language]


@dataclass(frozen=True)
class ClassesDataset:
    """Images sorted into classes, and the classes' names per language, for zero-shot accuracy.

    Attributes:
        classes: the class (sub-folder) names, sorted.
        images: every image, as an absolute path.
        image_class: for each image, the index of its class.
        label_names: language -> for each class, the names its label vector averages.
        source: where the data came from.

    Example:
        >>> names = {"en": [["a cat"], ["a dog"]], "de": [["eine Katze"], ["ein Hund"]]}
        >>> ClassesDataset(["cat", "dog"], ["/c.png", "/d.png"], [0, 1], names).languages
        ['de', 'en']
    """

    classes: list[str]
    images: list[str]
    image_class: list[int]
    label_names: dict[str, list[list[str]]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ConfigurationError(
                f"zero-shot accuracy needs at least 2 classes with images in {self.source or 'the dataset'}, "
                f"found {len(self.classes)}"
            )
        if len(self.images) != len(self.image_class):
            raise ConfigurationError("images and image_class must be equally long")
        for language, names in self.label_names.items():
            if len(names) != len(self.classes) or not all(names):
                raise ConfigurationError(f"language {language!r} needs at least one name for every class")

    @property
    def languages(self) -> list[str]:
        """The languages the labels are written in, sorted."""
        return sorted(self.label_names)


def load_pairs(path: str | os.PathLike[str]) -> PairsDataset:
    """Read image-caption pairs from a CSV or JSON Lines file (see the module's docstring).

    The format follows the suffix: ``.jsonl``/``.ndjson`` are JSON Lines, anything else CSV.

    Raises:
        ConfigurationError: the file is missing or malformed, a row lacks an image or caption,
            or an image file does not exist (the message lists the first few).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigurationError(f"pairs file {file} does not exist")
    rows = read_rows(file)
    base = file.resolve().parent
    images: list[str] = []
    index: dict[str, int] = {}
    captions: list[str] = []
    owners: list[int] = []
    languages: list[str] = []
    missing: list[str] = []
    for line, row in rows:
        image = row_field(row, IMAGE_KEYS)
        caption = row_field(row, CAPTION_KEYS)
        if not image or not caption:
            raise ConfigurationError(
                f"{file}:{line}: each row needs an image path ({'/'.join(IMAGE_KEYS)}) and a caption "
                f"({'/'.join(CAPTION_KEYS)})"
            )
        resolved = str((base / Path(image).expanduser()).resolve())
        if resolved not in index:
            if not Path(resolved).is_file():
                missing.append(image)
            index[resolved] = len(images)
            images.append(resolved)
        captions.append(caption)
        owners.append(index[resolved])
        languages.append(row_field(row, LANGUAGE_KEYS) or UNDETERMINED)
    if missing:
        listed = ", ".join(missing[:_MAX_LISTED]) + (" ..." if len(missing) > _MAX_LISTED else "")
        raise ConfigurationError(f"{len(missing)} image(s) named in {file} do not exist: {listed}")
    return PairsDataset(images, captions, owners, languages, source=str(file))


def load_classes(
    folder: str | os.PathLike[str], *, labels: str | os.PathLike[str] | None = None
) -> ClassesDataset:
    """Read a folder of class sub-folders (see the module's docstring).

    Args:
        folder: the folder whose sub-folders are the classes; hidden ones are ignored, and so
            are sub-folders without images.
        labels: a ``labels.json`` file; by default ``folder/labels.json`` when it exists.

    Raises:
        ConfigurationError: the folder is missing, has fewer than 2 classes with images, or
            ``labels.json`` is malformed or names a class that has no folder.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ConfigurationError(f"class folder {root} does not exist")
    classes: list[str] = []
    images: list[str] = []
    image_class: list[int] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = sorted(
            str(p)
            for p in sub.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
        )
        if not found:
            continue
        image_class.extend([len(classes)] * len(found))
        classes.append(sub.name)
        images.extend(found)
    labels_file = Path(labels).expanduser() if labels is not None else root / "labels.json"
    if labels is not None and not labels_file.is_file():
        raise ConfigurationError(f"labels file {labels_file} does not exist")
    translated = _read_labels(labels_file, classes) if labels_file.is_file() else {}
    default = [[_humanise(name)] for name in classes]
    if not translated:
        names = {UNDETERMINED: default}
    else:
        names = {
            language: [per_class.get(name) or default[i] for i, name in enumerate(classes)]
            for language, per_class in translated.items()
        }
    return ClassesDataset(classes, images, image_class, names, source=str(root))


def _humanise(folder_name: str) -> str:
    return " ".join(folder_name.replace("_", " ").replace("-", " ").split()) or folder_name


def read_rows(file: Path) -> list[tuple[int, dict[str, Any]]]:
    """The rows of a pairs file with their line numbers, keys lower-cased: JSON Lines for
    ``.jsonl``/``.ndjson``, CSV with a header otherwise.

    Raises:
        ConfigurationError: an empty CSV, or a JSON Lines line that is not a JSON object.
    """
    return _read_jsonl(file) if file.suffix.lower() in (".jsonl", ".ndjson") else _read_csv(file)


def row_field(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The first of ``keys`` that ``row`` has a non-blank value for, stripped; ``""`` if none."""
    for key in keys:
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _read_csv(file: Path) -> list[tuple[int, dict[str, Any]]]:
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ConfigurationError(f"{file} is empty; it needs a header such as 'image,caption,language'")
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        return [(i + 2, row) for i, row in enumerate(reader)]


def _read_jsonl(file: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{file}:{number}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise ConfigurationError(f"{file}:{number}: each line must be a JSON object")
        rows.append((number, {str(k).lower(): v for k, v in row.items()}))
    return rows


def _read_labels(file: Path, classes: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """``labels.json`` as language -> class -> names."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{file} must map each class folder to {{language: name}}")
    unknown = sorted(set(data) - set(classes))
    if unknown:
        raise ConfigurationError(
            f"{file} names classes that have no image folder: {', '.join(unknown[:_MAX_LISTED])}"
        )
    result: dict[str, dict[str, list[str]]] = {}
    for name, per_language in data.items():
        if not isinstance(per_language, dict):
            raise ConfigurationError(
                f'{file}: the entry of {name!r} must be an object such as {{"en": "a cat", "fr": "un chat"}}'
            )
        for language, value in per_language.items():
            values = [value] if isinstance(value, str) else value
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) and v.strip() for v in values)
            ):
                raise ConfigurationError(f"{file}: {name}.{language} must be a name or a list of names")
            result.setdefault(str(language), {})[name] = [v.strip() for v in values]
    return result
