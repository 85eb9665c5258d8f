"""The SigLIP sigmoid loss and the CLIP softmax loss (losses.py) against direct computations of their
formulas."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.losses import (
    INIT_LOGIT_BIAS,
    INIT_LOGIT_SCALE,
    LOSSES,
    get_loss,
    pair_logits,
    positives_from_labels,
    sigmoid_loss,
    softmax_loss,
)


def _unit_rows(x: torch.Tensor) -> list[list[float]]:
    """The rows of ``x`` as Python floats, each divided by its length."""
    rows = [[float(v) for v in row] for row in x]
    return [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in rows]


def _loop_loss(
    x: torch.Tensor, y: torch.Tensor, t_prime: float, b: float, positives: list[list[bool]] | None = None
) -> float:
    """-1/|B| sum_ij log sigmoid(z_ij (exp(t') x_i.y_j + b)), pair by pair, in float64 Python."""
    t = math.exp(t_prime)
    xs, ys = _unit_rows(x), _unit_rows(y)
    total = 0.0
    for i, xi in enumerate(xs):
        for j, yj in enumerate(ys):
            match = (i == j) if positives is None else positives[i][j]
            z = 1.0 if match else -1.0
            logit = t * sum(a * c for a, c in zip(xi, yj, strict=True)) + b
            total += math.log(1.0 / (1.0 + math.exp(-z * logit)))
    return -total / len(xs)


@pytest.mark.parametrize(("t_prime", "b"), [(INIT_LOGIT_SCALE, INIT_LOGIT_BIAS), (0.0, 0.0), (2.5, -3.0)])
def test_matches_loop_with_diagonal_positives(t_prime: float, b: float) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(5, 7, generator=gen, dtype=torch.float64), dim=-1)
    y = torch.nn.functional.normalize(torch.randn(5, 7, generator=gen, dtype=torch.float64), dim=-1)
    loss = sigmoid_loss(
        x,
        y,
        logit_scale=torch.tensor(t_prime, dtype=torch.float64),
        logit_bias=torch.tensor(b, dtype=torch.float64),
    )
    assert loss.shape == ()
    assert float(loss) == pytest.approx(_loop_loss(x, y, t_prime, b), rel=1e-10)


def test_matches_loop_with_class_positives_and_unnormalised_inputs() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64) * 3.0  # not unit length
    y = torch.randn(4, 4, generator=gen, dtype=torch.float64) * 0.2
    image_labels, text_labels = [0, 1, 2, 0, 1, 3], [0, 1, 2, 3]
    positives = positives_from_labels(image_labels, text_labels)
    assert positives.shape == (6, 4)
    loss = sigmoid_loss(
        x,
        y,
        logit_scale=torch.tensor(1.2, dtype=torch.float64),
        logit_bias=torch.tensor(-2.0, dtype=torch.float64),
        positives=positives,
    )
    expected = _loop_loss(x, y, 1.2, -2.0, [[a == c for c in text_labels] for a in image_labels])
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_known_value() -> None:
    # 3 positives at cos 1 and 6 negatives at cos 0, t = 1, b = 0, over 3 images
    x = torch.eye(3)
    loss = sigmoid_loss(x, x, logit_scale=torch.tensor(0.0), logit_bias=torch.tensor(0.0))
    expected = (3 * math.log1p(math.exp(-1.0)) + 6 * math.log(2.0)) / 3
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_no_bias_is_zero_bias() -> None:
    x = torch.nn.functional.normalize(torch.randn(3, 5), dim=-1)
    y = torch.nn.functional.normalize(torch.randn(3, 5), dim=-1)
    scale = torch.tensor(1.0)
    assert torch.allclose(
        sigmoid_loss(x, y, logit_scale=scale),
        sigmoid_loss(x, y, logit_scale=scale, logit_bias=torch.tensor(0.0)),
    )


def test_agrees_with_transformers_siglip_loss() -> None:
    from transformers import SiglipConfig, SiglipModel

    common = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = SiglipConfig(
        text_config={**common, "vocab_size": 50, "max_position_embeddings": 8},
        vision_config={**common, "image_size": 16, "patch_size": 8},
    )
    torch.manual_seed(0)
    model = SiglipModel(config).eval()
    with torch.no_grad():
        model.logit_scale.fill_(0.5)
        model.logit_bias.fill_(-1.5)
        out = model(
            input_ids=torch.randint(0, 50, (4, 8)), pixel_values=torch.randn(4, 3, 16, 16), return_loss=True
        )
        ours = sigmoid_loss(
            out.image_embeds, out.text_embeds, logit_scale=model.logit_scale, logit_bias=model.logit_bias
        )
    assert float(ours) == pytest.approx(float(out.loss), rel=1e-5)


def test_gradients_reach_scale_and_bias() -> None:
    scale = torch.tensor(INIT_LOGIT_SCALE, requires_grad=True)
    bias = torch.tensor(INIT_LOGIT_BIAS, requires_grad=True)
    x = torch.randn(4, 6, requires_grad=True)
    y = torch.randn(4, 6, requires_grad=True)
    sigmoid_loss(x, y, logit_scale=scale, logit_bias=bias).backward()
    for tensor in (scale, bias, x, y):
        assert tensor.grad is not None
        assert torch.isfinite(tensor.grad).all()
    # at initialisation every pair scores about sigmoid(-10 + 10 cos): the positives pull b up
    assert float(bias.grad) < 0


def test_pair_logits_are_the_models_scores() -> None:
    x = torch.eye(2)
    logits = pair_logits(x, x, logit_scale=torch.tensor(math.log(10.0)), logit_bias=torch.tensor(-10.0))
    assert torch.allclose(logits, torch.tensor([[0.0, -10.0], [-10.0, 0.0]]), atol=1e-5)


def test_bad_shapes_raise() -> None:
    scale = torch.tensor(0.0)
    with pytest.raises(ConfigurationError, match="differ in size"):
        sigmoid_loss(torch.randn(2, 3), torch.randn(2, 4), logit_scale=scale)
    with pytest.raises(ConfigurationError, match="counts must be equal"):
        sigmoid_loss(torch.randn(2, 3), torch.randn(3, 3), logit_scale=scale)
    with pytest.raises(ConfigurationError, match="positives must be shaped"):
        sigmoid_loss(torch.randn(2, 3), torch.randn(3, 3), logit_scale=scale, positives=torch.ones(3, 2))
    with pytest.raises(ConfigurationError, match="2-d"):
        sigmoid_loss(torch.randn(3), torch.randn(3), logit_scale=scale)
    with pytest.raises(ConfigurationError, match="empty"):
        sigmoid_loss(torch.randn(0, 3), torch.randn(0, 3), logit_scale=scale)


def test_registry() -> None:
    assert get_loss("sigmoid") is sigmoid_loss
    assert get_loss("softmax") is softmax_loss
    assert set(LOSSES) == {"sigmoid", "softmax"}
    with pytest.raises(ConfigurationError, match="unknown loss"):
        get_loss("triplet")


def test_every_family_names_a_loss_of_the_registry() -> None:
    from siglip_retriever.encoding.families import FAMILIES

    assert {name: get_loss(family.loss) for name, family in FAMILIES.items()} == {
        "siglip": sigmoid_loss,
        "siglip2": sigmoid_loss,
        "clip": softmax_loss,
    }


def test_importing_does_not_load_torch() -> None:
    code = (
        "import sys, siglip_retriever, siglip_retriever.losses, siglip_retriever.demo, "
        "siglip_retriever.demo.train, siglip_retriever.training, siglip_retriever.tuning.state; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def _loop_softmax_loss(
    x: torch.Tensor, y: torch.Tensor, t_prime: float, positives: list[list[bool]]
) -> float:
    """CLIP's loss, pair by pair in float64 Python: each row's target spread over its matches."""
    t = math.exp(t_prime)
    xs, ys = _unit_rows(x), _unit_rows(y)
    logits = [[t * sum(a * c for a, c in zip(xi, yj, strict=True)) for yj in ys] for xi in xs]

    def cross_entropy(rows: list[list[float]], targets: list[list[bool]]) -> float:
        total = 0.0
        for row, match in zip(rows, targets, strict=True):
            norm = math.log(sum(math.exp(v) for v in row))
            hits = [v for v, m in zip(row, match, strict=True) if m]
            total += -sum(v - norm for v in hits) / len(hits)
        return total / len(rows)

    columns = [list(col) for col in zip(*logits, strict=True)]
    column_targets = [list(col) for col in zip(*positives, strict=True)]
    return (cross_entropy(logits, positives) + cross_entropy(columns, column_targets)) / 2


@pytest.mark.parametrize("t_prime", [0.0, math.log(1 / 0.07)])
def test_softmax_loss_matches_loop(t_prime: float) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64) * 2.0
    y = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    image_labels, text_labels = [0, 1, 2, 3, 0, 2], [0, 1, 2, 3]
    positives = positives_from_labels(image_labels, text_labels)
    loss = softmax_loss(x, y, logit_scale=torch.tensor(t_prime, dtype=torch.float64), positives=positives)
    expected = _loop_softmax_loss(x, y, t_prime, positives.tolist())
    assert float(loss) == pytest.approx(expected, rel=1e-10)
    # the diagonal default is the paper's one-to-one case
    square = softmax_loss(x[:4], y, logit_scale=torch.tensor(t_prime, dtype=torch.float64))
    eye = [[i == j for j in range(4)] for i in range(4)]
    assert float(square) == pytest.approx(_loop_softmax_loss(x[:4], y, t_prime, eye), rel=1e-10)


def test_softmax_loss_ignores_the_bias_and_rejects_unmatched_rows() -> None:
    x = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    scale = torch.tensor(1.0)
    assert float(softmax_loss(x, x, logit_scale=scale, logit_bias=torch.tensor(-10.0))) == pytest.approx(
        float(softmax_loss(x, x, logit_scale=scale))
    )
    with pytest.raises(ConfigurationError, match="a match for every image"):
        softmax_loss(x, x, logit_scale=scale, positives=torch.zeros(3, 3, dtype=torch.bool))
