"""The ONNX file built from a spec is cached by content hash and never reused when the spec changes."""

from __future__ import annotations

import numpy as np
import pytest

from benchlib.models import get_model, reference_forward
from benchlib.models.onnx_export import ensure_onnx_file, onnx_path

pytest.importorskip("onnx")


def test_same_spec_reuses_the_file(isolated_outputs) -> None:
    spec = get_model("fnn")
    first = ensure_onnx_file(spec)
    assert first.parent == isolated_outputs / "models"
    assert spec.content_hash in first.name
    stamp = first.stat().st_mtime_ns
    second = ensure_onnx_file(get_model("fnn"))
    assert second == first and second.stat().st_mtime_ns == stamp


def test_changed_spec_gets_a_new_file(isolated_outputs) -> None:
    base = ensure_onnx_file(get_model("fnn"))
    changed = ensure_onnx_file(get_model("fnn", seed=12345))
    assert changed != base and changed.exists() and base.exists()
    assert onnx_path(get_model("fnn", seed=12345)) == changed


def test_the_file_computes_the_spec(isolated_outputs) -> None:
    ort = pytest.importorskip("onnxruntime")
    spec = get_model("fnn")
    session = ort.InferenceSession(str(ensure_onnx_file(spec)), providers=["CPUExecutionProvider"])
    inputs = spec.random_input(5, seed=1)
    outputs = session.run(None, {"input": inputs})[0]
    np.testing.assert_allclose(outputs, reference_forward(spec, inputs), atol=1e-5)
