"""Build tiny SigLIP checkpoints locally, with no model hub.

The tests, the benchmarks and the demo model's training all need checkpoints that load through
the very same ``from_pretrained(directory)`` path as a hub checkpoint. This module trains a
SentencePiece tokenizer on a small corpus, builds a (random or given) ``SiglipModel`` or
``Siglip2Model``, and saves model, tokenizer and image processor with ``save_pretrained``.

Example:
    >>> import tempfile
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> path = build_checkpoint(tempfile.mkdtemp())
    >>> sorted(p.name for p in path.iterdir())[:2]
    ['config.json', 'model.safetensors']
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = [
    "SAMPLE_CORPUS",
    "build_checkpoint",
    "save_checkpoint",
    "train_clip_tokenizer",
    "train_sentencepiece",
]

SAMPLE_CORPUS: tuple[str, ...] = (
    "a photo of a red circle",
    "a blue square on a white background",
    "two cats sleeping on a sofa",
    "une photo d'un cercle rouge",
    "un carré bleu sur un fond blanc",
    "ein Foto von einem roten Kreis",
    "ein blaues Quadrat auf weißem Hintergrund",
    "una foto de un círculo rojo",
    "un cuadrado azul sobre fondo blanco",
    "一张红色圆形的照片",
    "白色背景上的蓝色正方形",
    "赤い丸の写真",
    "صورة دائرة حمراء",
    "مربع أزرق على خلفية بيضاء",
    "фотография красного круга",
    "синий квадрат на белом фоне",
    "빨간 원의 사진",
    "φωτογραφία ενός κόκκινου κύκλου",
)
"""A few captions in Latin, CJK, Arabic, Cyrillic, Hangul and Greek scripts."""


def train_sentencepiece(
    corpus: Iterable[str],
    out_dir: str | Path,
    *,
    vocab_size: int = 256,
    seed: int = 0,
) -> Path:
    """Train a SentencePiece unigram tokenizer laid out as SigLIP's (``spiece.model``).

    Special ids follow the released checkpoints: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2.
    ``vocab_size`` is an upper bound; a small corpus yields fewer pieces.

    Returns:
        The path of the written ``spiece.model``.
    """
    import sentencepiece as spm

    lines = [line.strip() for line in corpus if line and line.strip()]
    if not lines:
        raise ConfigurationError("the tokenizer corpus is empty; pass at least one text")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "corpus.txt"
        text_file.write_text("\n".join(lines), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(text_file),
            model_prefix=str(out / "spiece"),
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=1.0,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            pad_piece="<pad>",
            eos_piece="</s>",
            unk_piece="<unk>",
            num_threads=1,
            minloglevel=2,
        )
    return out / "spiece.model"


def train_clip_tokenizer(corpus: Iterable[str], *, vocab_size: int = 512) -> Any:
    """Train a byte-level BPE tokenizer laid out as CLIP's and return a ``CLIPTokenizer``.

    It uses CLIP's own normalizer and pre-tokenizer, ``</w>`` word ends, and the
    ``<|startoftext|>`` / ``<|endoftext|>`` specials, so any text (any script) tokenizes.
    """
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    lines = [line.strip() for line in corpus if line and line.strip()]
    if not lines:
        raise ConfigurationError("the tokenizer corpus is empty; pass at least one text")
    specials = ["<|startoftext|>", "<|endoftext|>"]
    reference = CLIPTokenizer(vocab={name: i for i, name in enumerate(specials)}, merges=[])
    bpe = Tokenizer(models.BPE(unk_token=specials[1], end_of_word_suffix="</w>"))
    bpe.normalizer = reference.backend_tokenizer.normalizer
    bpe.pre_tokenizer = reference.backend_tokenizer.pre_tokenizer
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        end_of_word_suffix="</w>",
        initial_alphabet=alphabet,
        show_progress=False,
    )
    bpe.train_from_iterator(lines, trainer)
    model = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    for char in sorted(alphabet):  # every byte may end a word
        vocab.setdefault(char + "</w>", len(vocab))
    merges: Any = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return CLIPTokenizer(vocab=vocab, merges=merges)


def save_checkpoint(
    model: PreTrainedModel,
    tokenizer_file: str | Path | Any,
    out_dir: str | Path,
) -> Path:
    """Save ``model`` with a tokenizer and a matching image processor.

    ``tokenizer_file`` is a SentencePiece ``spiece.model`` (SigLIP, SigLIP 2) or a tokenizer
    object (CLIP: see :func:`train_clip_tokenizer`). The image processor's size (SigLIP, CLIP)
    or patch budget (SigLIP 2) is read from the model's vision config, so the saved directory is
    complete: ``AutoModel`` and ``AutoProcessor`` load it back by path.
    """
    from transformers import SiglipImageProcessor, SiglipProcessor, SiglipTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text_length = int(model.config.text_config.max_position_embeddings)
    vision = model.config.vision_config
    processor: Any
    if model.config.model_type == "clip":
        from transformers import CLIPImageProcessor, CLIPProcessor

        clip_tokenizer: Any = tokenizer_file
        clip_tokenizer.model_max_length = text_length
        side = vision.image_size
        clip_images = CLIPImageProcessor(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}
        )
        CLIPProcessor(image_processor=clip_images, tokenizer=clip_tokenizer).save_pretrained(out)
        model.save_pretrained(out)
        return out
    tokenizer = SiglipTokenizer(vocab_file=str(tokenizer_file), model_max_length=text_length)
    if model.config.model_type == "siglip2":
        from transformers import Siglip2ImageProcessor, Siglip2Processor

        image_processor = Siglip2ImageProcessor(
            patch_size=vision.patch_size, max_num_patches=vision.num_patches
        )
        processor = Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer)
    else:
        size = {"height": vision.image_size, "width": vision.image_size}
        processor = SiglipProcessor(image_processor=SiglipImageProcessor(size=size), tokenizer=tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    if model.config.model_type == "siglip2":
        # SigLIP 2 loads a fast (Rust) tokenizer, which reads tokenizer.json, as hub checkpoints ship
        from transformers.convert_slow_tokenizer import SpmConverter

        SpmConverter(tokenizer).converted().save(str(out / "tokenizer.json"))
    return out


def build_checkpoint(
    out_dir: str | Path,
    *,
    family: Literal["siglip", "siglip2", "clip"] = "siglip",
    corpus: Iterable[str] = SAMPLE_CORPUS,
    vocab_size: int = 256,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    image_size: int = 32,
    patch_size: int = 8,
    text_length: int = 16,
    seed: int = 0,
) -> Path:
    """Build a random tiny SigLIP, SigLIP 2 or CLIP checkpoint in ``out_dir``; return its path.

    For SigLIP ``logit_scale`` and ``logit_bias`` are set to the paper's initial values
    (``log 10`` and ``-10``), so probabilities are in a realistic range. CLIP keeps its own
    initial scale (``log(1/0.07)``) and has no bias.
    """
    import torch
    from transformers import Siglip2Config, Siglip2Model, SiglipConfig, SiglipModel

    if family not in ("siglip", "siglip2", "clip"):
        raise ConfigurationError(f"family must be 'siglip', 'siglip2' or 'clip', not {family!r}")
    common = {
        "hidden_size": hidden_size,
        "intermediate_size": hidden_size * 2,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
    }
    if family == "clip":
        from transformers import CLIPConfig, CLIPModel

        tokenizer = train_clip_tokenizer(corpus, vocab_size=max(vocab_size, 300))
        clip_text = {
            **common,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": text_length,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
        clip_vision = {**common, "image_size": image_size, "patch_size": patch_size}
        torch.manual_seed(seed)
        clip = CLIPModel(
            CLIPConfig(text_config=clip_text, vision_config=clip_vision, projection_dim=hidden_size)
        )
        return save_checkpoint(clip, tokenizer, out_dir)
    tokenizer_file = train_sentencepiece(corpus, out_dir, vocab_size=vocab_size, seed=seed)
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(tokenizer_file)).get_piece_size()
    text_config = {
        **common,
        "vocab_size": vocab,
        "max_position_embeddings": text_length,
        "pad_token_id": 1,
        "bos_token_id": None,
        "eos_token_id": 1,
    }
    torch.manual_seed(seed)
    model: PreTrainedModel
    if family == "siglip2":
        vision2 = {**common, "patch_size": patch_size, "num_patches": (image_size // patch_size) ** 2}
        model = Siglip2Model(Siglip2Config(text_config=text_config, vision_config=vision2))
    else:
        vision = {**common, "image_size": image_size, "patch_size": patch_size}
        model = SiglipModel(SiglipConfig(text_config=text_config, vision_config=vision))
    with torch.no_grad():
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    return save_checkpoint(model, tokenizer_file, out_dir)
