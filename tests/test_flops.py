"""FLOPs per sample: the spec's multiply-add count agrees with PyTorch's own counter within 1%."""

from __future__ import annotations

import pytest

from benchlib.models import MODELS, get_model
from tests.layer_cases import LAYER_CASES, layer_spec

torch = pytest.importorskip("torch")

BATCH = 2
#: torch.backends.mkldnn.flags() warns about a GPU feature on every use
pytestmark = pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")


def _counted_flops(spec) -> int:  # noqa: ANN001 - a ModelSpec
    """FLOPs ``FlopCounterMode`` sees for one batch through the PyTorch backend's own module."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from benchlib.backends.torch_layers import build_model

    model = build_model(spec)
    inputs = torch.from_numpy(spec.random_input(BATCH, seed=0))
    # The counter sees matmuls, convolutions and batched matmuls. oneDNN's fused LSTM kernel and
    # the fused attention kernels are opaque to it, so here they run as their decomposed forms
    # (the same products, now visible); the measured runs keep the fused kernels.
    with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH):
        with FlopCounterMode(display=False) as counter:
            model(inputs)
    return counter.get_total_flops()


@pytest.mark.parametrize("model", list(MODELS))
def test_model_multiply_adds_match_pytorch_counter(model: str) -> None:
    spec = get_model(model)
    counted = _counted_flops(spec) / BATCH
    assert counted > 0
    assert spec.matmul_flops_per_sample() == pytest.approx(counted, rel=0.01)
    # the rest (bias, activations, normalisation, softmax) is a small share of the total
    assert spec.matmul_flops_per_sample() < spec.flops_per_sample() < 1.1 * spec.matmul_flops_per_sample()


@pytest.mark.parametrize("case", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_layer_multiply_adds_match_pytorch_counter(case: tuple) -> None:
    spec = layer_spec(case)
    assert spec.matmul_flops_per_sample() == pytest.approx(_counted_flops(spec) / BATCH, rel=0.01, abs=0)


def test_known_counts() -> None:
    # MLPerf Tiny publishes 12.5 M multiply-adds per image for ResNet-8; BERT-Tiny has 4.4 M parameters,
    # most of them word embeddings (a gather: no FLOPs)
    assert get_model("resnet8").matmul_flops_per_sample() == pytest.approx(2 * 12.5e6, rel=0.01)
    bert = get_model("bert_tiny")
    assert bert.parameter_count() == pytest.approx(4.39e6, rel=0.01)
    lstm = get_model("lstm_spam")
    assert lstm.matmul_flops_per_sample() == 64 * 2 * (64 + 128) * 4 * 128 + 2 * 128
