"""Held-out scores of a model during fine-tuning: text->image and image->text Recall@1/5/10, per
language, on pictures the run never trains on (:func:`score`).

A caption counts as right for every picture that has the same caption, as in training: with
"a cyan star" under ten pictures, any of them first is a hit (:func:`relevance`).

The pictures are preprocessed as the encoders do (no augmentation) and the captions tokenised by
the one rule of the checkpoint's family (:meth:`~siglip_retriever.encoding.loading.LoadedModel.tokenize`,
as :meth:`~siglip_retriever.encoding.encoder.SiglipEncoder.encode_texts` does), so the scores are
those the saved checkpoint gets in ``compare``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.compare.metrics import retrieval_scores

if TYPE_CHECKING:
    from siglip_retriever.encoding.loading import LoadedModel
    from siglip_retriever.tuning.data import TrainingPairs

__all__ = ["KS", "encode_pictures", "encode_texts", "relevance", "score"]

KS = (1, 5, 10)
"""The k of the Recall@k reported."""

_CHUNK = 64


def encode_texts(model: Any, loaded: LoadedModel, texts: list[str]) -> Any:
    """Unit text vectors of ``texts`` (a torch tensor), with gradients when the model trains."""
    from siglip_retriever.encoding.encoder import pooled_features

    features = pooled_features(model.get_text_features(**loaded.tokenize(texts)))
    return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def encode_pictures(model: Any, loaded: LoadedModel, pictures: list[Any]) -> Any:
    """Unit image vectors of PIL ``pictures`` (a torch tensor), with gradients when the model trains."""
    from siglip_retriever.encoding.encoder import pooled_features

    pixels = loaded.image_processor(images=pictures, return_tensors="pt")["pixel_values"].to(loaded.device)
    features = pooled_features(model.get_image_features(pixel_values=pixels))
    return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def score(model: Any, loaded: LoadedModel, data: TrainingPairs) -> dict[str, dict[str, Any]]:
    """Recall@1/5/10 both ways on ``data``, overall and per language
    (:func:`~siglip_retriever.compare.metrics.retrieval_scores`)."""
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        images = np.concatenate(
            [
                encode_pictures(model, loaded, data.pictures[i : i + _CHUNK]).cpu().numpy()
                for i in range(0, len(data.pictures), _CHUNK)
            ]
        )
        captions = [pair.caption for pair in data.pairs]
        texts = np.concatenate(
            [
                encode_texts(model, loaded, captions[i : i + _CHUNK]).cpu().numpy()
                for i in range(0, len(captions), _CHUNK)
            ]
        )
    model.train(was_training)
    owners = [pair.image for pair in data.pairs]
    languages = [pair.language for pair in data.pairs]
    return retrieval_scores(texts @ images.T, owners, languages, KS, relevant=relevance(data))


def relevance(data: TrainingPairs) -> np.ndarray:
    """``(n_pairs, n_pictures)``: caption ``c`` is right for picture ``i`` when ``i`` has that caption."""
    texts_of: list[set[str]] = [set() for _ in data.images]
    for pair in data.pairs:
        texts_of[pair.image].add(pair.caption)
    return np.array([[pair.caption in texts for texts in texts_of] for pair in data.pairs], dtype=bool)
