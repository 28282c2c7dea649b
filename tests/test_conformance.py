"""Layer conformance matrix: every layer kind alone, then every whole model, in every backend,
against the float64 reference (in the spirit of ONNX's backend node tests).

Frameworks are imported once in this process (as ``benchlib verify`` does); each case builds a
tiny spec at batch 3, so the whole matrix costs seconds per backend, not a process per case.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchlib.backends import BACKEND_NAMES, available_backends, backend_variants, create_backend
from benchlib.models import MODELS, Activation, ModelSpec, get_model, reference_forward
from benchlib.models.layer_base import ACTIVATIONS
from benchlib.models.reference import REFERENCE
from tests.layer_cases import LAYER_CASES, layer_spec

LAYER_BATCH = 3


def test_the_cases_cover_every_layer_kind_and_activation() -> None:
    kinds = set()
    for case in LAYER_CASES:
        for layer in case[2]:
            kinds.add(layer.kind)
            kinds.update(child.kind for child in getattr(layer, "body", ()) + getattr(layer, "shortcut", ()))
    assert kinds == set(REFERENCE)
    assert {layer.function for _, _, (layer,) in LAYER_CASES if isinstance(layer, Activation)} == set(ACTIVATIONS)


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def backend_name(request, tmp_path_factory):
    name = request.param
    if name not in available_backends():
        pytest.skip(f"{name} is not installed")
    # module-scoped: ONNX files of this module's specs get one home, outside the per-test outputs
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHLIB_OUTPUTS", str(tmp_path_factory.mktemp(f"conformance-{name}")))
        yield name


def _check(name: str, spec: ModelSpec, batch_sizes: tuple[int, ...], variant: str | None = None) -> float:
    predict = create_backend(name, spec, threads=2, variant=variant).predictor()
    worst = 0.0
    for batch in batch_sizes:
        inputs = spec.random_input(batch, seed=batch)
        outputs = predict(inputs)
        assert isinstance(outputs, np.ndarray) and outputs.dtype == np.float32
        assert outputs.shape == (batch, *spec.output_shape)
        worst = max(worst, float(np.max(np.abs(outputs.astype(np.float64) - reference_forward(spec, inputs)))))
    return worst


@pytest.mark.parametrize("case", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_layer_alone_matches_reference(backend_name: str, case: tuple) -> None:
    spec = layer_spec(case)
    error = _check(backend_name, spec, (LAYER_BATCH,))
    assert error <= spec.tolerance, f"{backend_name} {case[0]}: max abs error {error:.3g}"


@pytest.mark.parametrize("model", list(MODELS))
def test_whole_model_matches_reference(backend_name: str, model: str) -> None:
    spec = get_model(model)
    error = _check(backend_name, spec, (1, LAYER_BATCH))
    assert error <= spec.tolerance, f"{backend_name} {model}: max abs error {error:.3g} > {spec.tolerance:g}"


#: torch.compile's Inductor spends 15-60 s per model and batch size on 2 cores: checked by
#: ``benchlib verify --variants all`` rather than on every test run.
SLOW_VARIANTS = {("pytorch", "compile")}


def test_every_other_variant_runs_every_model(backend_name: str) -> None:
    # the default variant is covered above; a variant that cannot build a model must say so
    # (UnsupportedVariantError / UnsupportedLayerError), never compute something else
    for variant in backend_variants(backend_name)[1:]:
        if (backend_name, variant) in SLOW_VARIANTS:
            continue
        for model in MODELS:
            spec = get_model(model)
            error = _check(backend_name, spec, (2,), variant=variant)
            assert error <= spec.tolerance, f"{backend_name}/{variant} {model}: max abs error {error:.3g}"
