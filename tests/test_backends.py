"""Every backend computes the spec's function; errors say what is wrong and what is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchlib.backends import BACKEND_NAMES, available_backends, create_backend
from benchlib.errors import BackendUnavailableError, UnsupportedVariantError
from benchlib.models import get_model, reference_forward
from tests.conftest import child_env

FRAMEWORK_MODULES = ("torch", "tensorflow", "ai_edge_litert", "jax", "jaxlib", "onnxruntime", "openvino", "onnx",
                     "keras")


@pytest.fixture(scope="module")
def spec():
    return get_model("fnn")


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def predictor(request, spec, tmp_path_factory):
    name = request.param
    if name not in available_backends():
        pytest.skip(f"{name} is not installed")
    # module-scoped: the autouse outputs fixture is function-scoped, so give the ONNX file its own home
    # for the build (the predictor keeps its session; nothing is read from disk afterwards)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHLIB_OUTPUTS", str(tmp_path_factory.mktemp(f"outputs-{name}")))
        predictor = create_backend(name, spec, threads=2).predictor()
    return predictor


def test_every_backend_is_installed_in_ci() -> None:
    # CI installs the full stack; a missing framework there is a set-up bug, not a skip.
    if os.environ.get("CI"):
        assert available_backends() == list(BACKEND_NAMES)


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_backend_matches_float64_reference(predictor, spec, batch: int) -> None:
    inputs = spec.random_input(batch, seed=batch)
    outputs = predictor(inputs)
    assert isinstance(outputs, np.ndarray) and outputs.dtype == np.float32
    assert outputs.shape == (batch, 1)
    error = np.max(np.abs(outputs.astype(np.float64) - reference_forward(spec, inputs)))
    assert error <= spec.tolerance


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (np.zeros((4, 199), np.float32), r"shape \[batch, 200\].*got shape \[4, 199\]"),
        (np.zeros((4, 200), np.float64), "got dtype float64"),
        (np.zeros((200,), np.float32), r"got shape \[200\]"),
        (np.zeros((0, 200), np.float32), "batch >= 1"),
        ([[0.0] * 200], "got list"),
    ],
)
def test_bad_inputs_raise_value_error(spec, inputs, message: str) -> None:
    predict = create_backend("numpy", spec).predictor()
    with pytest.raises(ValueError, match=message):
        predict(inputs)


def test_unknown_backend_lists_valid_names(spec) -> None:
    with pytest.raises(ValueError, match="backend='mxnet' is unknown; allowed: numpy, pytorch, tensorflow"):
        create_backend("mxnet", spec)


def test_unknown_variant_and_bad_threads_are_refused(spec) -> None:
    with pytest.raises(UnsupportedVariantError, match="variant='turbo' is unknown.*allowed: default"):
        create_backend("numpy", spec, variant="turbo")
    with pytest.raises(ValueError, match="threads=0 is invalid"):
        create_backend("numpy", spec, threads=0)


def test_importing_benchlib_imports_no_framework() -> None:
    code = (
        "import sys, json, benchlib; benchlib.available_backends();"
        "from benchlib.backends import get_backend_class; [get_backend_class(n) for n in benchlib.BACKEND_NAMES];"
        f"print(json.dumps(sorted(m for m in {FRAMEWORK_MODULES!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env())
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _create_with_blocked_imports(backend: str, blocked: str) -> str:
    """What a child process prints with ``blocked`` modules hidden: its available backends (first line), then the
    error creating ``backend`` raises (``ERROR ...``)."""
    code = (
        "import benchlib\n"
        "from benchlib.errors import BackendUnavailableError\n"
        "print(benchlib.available_backends())\n"
        "try:\n"
        f"    benchlib.create_backend({backend!r}, benchlib.get_model('fnn'))\n"
        "except BackendUnavailableError as exc:\n"
        "    print('ERROR', exc)\n"
    )
    env = child_env(BENCHLIB_BLOCK_IMPORTS=blocked)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_missing_framework_names_the_requirement() -> None:
    out = _create_with_blocked_imports("tensorflow", "tensorflow")
    assert "'tensorflow'" not in out.splitlines()[0]
    assert "ERROR backend 'tensorflow' needs 'tensorflow-cpu'" in out
    assert "pip install tensorflow-cpu" in out


def test_unavailable_error_is_an_import_error() -> None:
    exc = BackendUnavailableError("jax", "jax jaxlib", "No module named 'jax'")
    assert isinstance(exc, ImportError) and "pip install jax jaxlib" in str(exc)


def test_int64_token_inputs_are_validated() -> None:
    spec = get_model("lstm_spam")
    predict = create_backend("numpy", spec).predictor()
    assert predict(spec.random_input(2, seed=0)).shape == (2, 1)
    with pytest.raises(ValueError, match=r"a numpy array of int64, shape \[batch, 64\]; got dtype float32"):
        predict(np.zeros((2, 64), np.float32))


def test_worker_records_a_layer_kind_a_backend_cannot_build_as_skipped(monkeypatch) -> None:
    from benchlib.backends import numpy_layers
    from benchlib.engine.case import RunCase
    from benchlib.engine.worker import run_worker

    monkeypatch.delitem(numpy_layers.NUMPY_BUILDERS, "conv2d")
    record = run_worker(RunCase(backend="numpy", model="resnet8", batch_size=1, min_time_s=0, min_calls=1))
    assert record["status"] == "skipped"
    assert "numpy backend cannot build layer kind 'conv2d'" in record["error"]


def test_litert_without_its_runtime_names_both_requirements() -> None:
    out = _create_with_blocked_imports("litert", "ai_edge_litert")
    assert "'litert'" not in out.splitlines()[0] and "'tensorflow'" in out.splitlines()[0]
    assert "pip install ai-edge-litert tensorflow-cpu" in out


def test_static_shapes_make_each_batch_once_and_keep_a_bounded_number() -> None:
    from types import SimpleNamespace

    from benchlib.backends.static_shapes import MAX_STATIC_SHAPES, StaticShapes, per_batch_predictor

    made: list[int] = []

    def make(batch: int) -> SimpleNamespace:
        made.append(batch)
        return SimpleNamespace(call=lambda inputs: inputs * batch)

    shapes = StaticShapes(make)
    predict = per_batch_predictor(shapes.get)
    for batch in (1, 2, 1, 2):
        assert (predict(np.ones((batch, 3))) == batch).all()
    assert made == [1, 2]  # made on first use only
    for batch in range(3, 3 + MAX_STATIC_SHAPES):
        shapes.get(batch)
    assert len(shapes._slots) == MAX_STATIC_SHAPES and 1 not in shapes._slots  # the oldest dropped
