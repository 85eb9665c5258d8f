"""The optimisation fine-tuning and the demo's training share (training.py): AdamW's groups, the
schedule, the family's loss and one step."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from siglip_retriever.encoding.families import FAMILIES
from siglip_retriever.losses import sigmoid_loss, softmax_loss
from siglip_retriever.training import adamw, family_loss, optimisation_step, set_learning_rates, warmup_cosine


class _Pair(torch.nn.Module):
    """A model with a matrix, a vector, and SigLIP's temperature and bias."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)
        self.logit_scale = torch.nn.Parameter(torch.tensor([math.log(10.0)]))
        self.logit_bias = torch.nn.Parameter(torch.tensor([-10.0]))


def test_adamw_decays_the_matrices_only_and_gives_the_logits_their_rate() -> None:
    model = _Pair()
    model.proj.bias.requires_grad_(False)  # frozen parameters are left out
    optimizer = adamw(
        model, learning_rate=1e-3, logit_learning_rate=1e-2, weight_decay=0.1, betas=(0.9, 0.95)
    )
    groups = optimizer.param_groups
    assert [len(group["params"]) for group in groups] == [1, 2]  # the empty vector group is left out
    assert groups[0]["params"][0] is model.proj.weight and groups[0]["weight_decay"] == 0.1
    assert groups[1]["params"] == [model.logit_scale, model.logit_bias]
    assert (groups[1]["weight_decay"], groups[1]["base_lr"], groups[0]["base_lr"]) == (0.0, 1e-2, 1e-3)
    assert groups[0]["betas"] == (0.9, 0.95)


def test_the_schedule_warms_up_then_decays_to_zero() -> None:
    factors = [warmup_cosine(step, 100, 10) for step in range(100)]
    assert factors[:3] == [0.1, 0.2, 0.3] and factors[9] == factors[10] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))
    assert factors[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert warmup_cosine(0, 10, 0) == 1.0  # no warm-up: the decay from the first step
    optimizer = adamw(_Pair(), learning_rate=1e-3, logit_learning_rate=1e-2, weight_decay=0.0)
    set_learning_rates(optimizer, step=0, total=100, warmup_steps=10)
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([1e-4, 1e-4, 1e-3])


@pytest.mark.parametrize(("family", "loss"), [("siglip", sigmoid_loss), ("clip", softmax_loss)])
def test_each_family_trains_with_its_loss(family: str, loss: object) -> None:
    model, x = _Pair(), torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    positives = torch.eye(3, dtype=torch.bool)
    expected = {"siglip": sigmoid_loss, "clip": softmax_loss}[family](
        x, x, logit_scale=model.logit_scale, logit_bias=model.logit_bias, positives=positives
    )
    assert torch.equal(family_loss(model, FAMILIES[family], x, x, positives=positives), expected)


def test_a_step_clips_the_gradients_and_bounds_clip_s_temperature() -> None:
    for family, bounded in (("clip", True), ("siglip", False)):
        model = _Pair()
        with torch.no_grad():
            model.logit_scale.fill_(10.0)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        loss = 1000 * model.proj(torch.ones(1, 4)).sum() - model.logit_scale.sum()
        optimisation_step(model, optimizer, loss, FAMILIES[family])
        scale = float(model.logit_scale.detach())
        assert scale == (pytest.approx(math.log(100.0)) if bounded else pytest.approx(10.0, abs=1.0))
        assert float(model.proj.weight.grad.norm()) <= 1.0 + 1e-6
