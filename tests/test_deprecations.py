"""No deprecated call of benchlib's own: PyTorch's variants and the ONNX exporter under warnings-as-errors."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _pytest.config import parse_warning_filter

from benchlib.backends import create_backend, missing_requirement
from benchlib.models import get_model

needs_torch = pytest.mark.skipif(missing_requirement("pytorch") is not None, reason="needs torch")
TWO_HEADS = "torch:tests.user_factories:two_heads"
#: What a deprecated call can raise; "error" turns each into an exception wherever it is attributed.
DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


@contextlib.contextmanager
def deprecations_as_errors() -> Iterator[None]:
    """A block in which every deprecation notice raises, whichever module it is attributed to."""
    with warnings.catch_warnings():
        for category in DEPRECATIONS:
            warnings.simplefilter("error", category)
        yield


@needs_torch
@pytest.mark.parametrize("model", ["fnn", "lstm_spam"])
def test_torchscript_variant_builds_with_deprecations_as_errors(model: str) -> None:
    spec = get_model(model)
    inputs = spec.random_input(3, seed=1)
    expected = create_backend("pytorch", spec, threads=1, variant="eager").predictor()(inputs)
    with deprecations_as_errors():  # torch.jit's notices are attributed to torch.jit: only "error" everywhere sees them
        outputs = create_backend("pytorch", spec, threads=1, variant="torchscript").predictor()(inputs)
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=spec.tolerance)


@needs_torch
def test_factory_export_and_torchscript_variant_with_deprecations_as_errors(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.models.torch_factory import export_factory, load_factory_model
    from benchlib.models.user import create_model_backend

    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(tmp_path / "outputs"))
    with deprecations_as_errors():  # the legacy ONNX export runs here, in this process (planning: a child process)
        model = load_factory_model(TWO_HEADS, {})
        feeds = model.random_input(2, seed=0)
        outputs = create_model_backend("pytorch", model, threads=1, variant="torchscript").raw_predictor()(feeds)
    assert Path(export_factory(TWO_HEADS)["factory_onnx"]).parent == tmp_path / "outputs" / "models"
    for output, reference in zip(outputs, model.reference(feeds), strict=True):
        np.testing.assert_allclose(output, reference, rtol=0, atol=1e-5)


@needs_torch
def test_a_factory_record_names_its_exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.models.torch_factory import load_factory_model

    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(tmp_path / "outputs"))
    exporter = load_factory_model(TWO_HEADS, {}).identity().get("exporter")
    assert exporter == "torch.onnx.export, TorchScript-based (dynamo=False), opset 17"


def test_pytest_turns_benchlibs_own_deprecations_into_errors(pytestconfig: pytest.Config) -> None:
    entries = pytestconfig.getini("filterwarnings")
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # whatever -W says, only the configured entries decide below
        for entry in entries:
            warnings.filterwarnings(*parse_warning_filter(entry, escape=False))
        for category in DEPRECATIONS:
            for module in ("benchlib", "benchlib.backends.pytorch", "benchlib.models.torch_factory"):
                with pytest.raises(category):
                    warnings.warn_explicit("an old call", category, f"{module.replace('.', '/')}.py", 1,
                                           module=module, registry={})
            # a library's own notice (attributed to the library, or to a module merely named alike) stays a warning
            for module in ("torch.jit._trace", "benchlib_extras", "tests.test_deprecations"):
                with warnings.catch_warnings(record=True) as seen:
                    warnings.warn_explicit("an old call", category, "x.py", 1, module=module, registry={})
                assert [w.category for w in seen] == [category], module
