"""What every model of a comparison encodes: each image once, and the texts grouped by language.

Example:
    >>> from siglip_retriever.compare.datasets import PairsDataset
    >>> from siglip_retriever.compare.workload import plan_workload
    >>> pairs = PairsDataset(["/a.png", "/b.png"], ["a", "un", "b"], [0, 0, 1], ["en", "fr", "en"])
    >>> work = plan_workload(pairs, None, ["{}"])
    >>> work.images, work.text_groups
    (['/a.png', '/b.png'], [('en', ['a', 'b']), ('fr', ['un'])])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from siglip_retriever.compare.datasets import ClassesDataset, PairsDataset
from siglip_retriever.search.templates import fill_template

__all__ = ["Workload", "plan_workload"]


@dataclass(frozen=True)
class Workload:
    """Every distinct image once and every text once, with where each task's share of them is.

    Texts come in ``(language, texts)`` groups, since NLLB tokenizers need the language: the
    pairs' captions by language, then the zero-shot prompts by label language.

    Attributes:
        pairs: the image-caption pairs, if any.
        classes: the class folders, if any.
        templates: the zero-shot prompt templates.
        images: every distinct image path, in order of first appearance.
        text_groups: ``(language, texts)``, the pairs' groups first.
        pair_images: for each of the pairs' images, its index in ``images``.
        class_images: for each of the class folders' images, its index in ``images``.
        pair_groups: the indices in ``text_groups`` of the pairs' captions.
        prompt_groups: the indices in ``text_groups`` of the zero-shot prompts.

    Example:
        >>> work = Workload(None, None, ["{}"], ["/a.png"], [("en", ["a cat", "a dog"])], [0], [], [0], [])
        >>> work.text_count
        2
    """

    pairs: PairsDataset | None
    classes: ClassesDataset | None
    templates: list[str]
    images: list[str]
    text_groups: list[tuple[str, list[str]]]
    pair_images: list[int]
    class_images: list[int]
    pair_groups: list[int]
    prompt_groups: list[int]

    @property
    def text_count(self) -> int:
        """How many texts the groups hold together."""
        return sum(len(texts) for _, texts in self.text_groups)


def plan_workload(
    pairs: PairsDataset | None, classes: ClassesDataset | None, templates: Sequence[str]
) -> Workload:
    """The images and texts to encode for ``pairs`` and/or ``classes``, prompts from ``templates``.

    Each label name of each language is written with every template, in the order of
    ``classes.label_names[language]`` (class by class, name by name, template by template).

    Example:
        >>> from siglip_retriever.compare.datasets import ClassesDataset
        >>> classes = ClassesDataset(["cat", "dog"], ["/c.png", "/d.png"], [0, 1], {"en": [["cat"], ["dog"]]})
        >>> plan_workload(None, classes, ["a {}", "the {}"]).text_groups
        [('en', ['a cat', 'the cat', 'a dog', 'the dog'])]
    """
    images: list[str] = []
    position: dict[str, int] = {}

    def place(paths: Sequence[str]) -> list[int]:
        indices = []
        for path in paths:
            if path not in position:
                position[path] = len(images)
                images.append(path)
            indices.append(position[path])
        return indices

    pair_images = place(pairs.images) if pairs is not None else []
    class_images = place(classes.images) if classes is not None else []
    groups: list[tuple[str, list[str]]] = []
    pair_groups: list[int] = []
    prompt_groups: list[int] = []
    if pairs is not None:
        for language in pairs.languages:
            pair_groups.append(len(groups))
            groups.append((language, [pairs.captions[i] for i in pairs.captions_in(language)]))
    if classes is not None:
        for language in classes.languages:
            prompts = [
                fill_template(template, name)
                for names in classes.label_names[language]
                for name in names
                for template in templates
            ]
            prompt_groups.append(len(groups))
            groups.append((language, prompts))
    return Workload(
        pairs, classes, list(templates), images, groups, pair_images, class_images, pair_groups, prompt_groups
    )
