"""No deprecated call of benchlib's own: PyTorch's variants and the ONNX exporter under warnings-as-errors.

A factory is exported by the torch.export-based exporter with a symbolic batch; the TorchScript-based one is the
fallback, named in the record with the reason.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _pytest.config import parse_warning_filter

from benchlib.backends import create_backend, missing_requirement
from benchlib.models import get_model
from tests.conftest import FAST_CASE, TWO_HEADS

needs_torch = pytest.mark.skipif(missing_requirement("pytorch") is not None, reason="needs torch")
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
@pytest.mark.usefixtures("tmp_outputs")
def test_factory_export_and_torchscript_variant_with_deprecations_as_errors(tmp_path: Path) -> None:
    from benchlib.backends.registry import create_model_backend
    from benchlib.models.torch_factory import export_factory, load_factory_model

    with deprecations_as_errors():  # the legacy ONNX export runs here, in this process (planning: a child process)
        model = load_factory_model(TWO_HEADS, {})
        feeds = model.random_input(2, seed=0)
        outputs = create_model_backend("pytorch", model, threads=1, variant="torchscript").raw_predictor()(feeds)
    assert Path(export_factory(TWO_HEADS)["factory_onnx"]).parent == tmp_path / "outputs" / "models"
    for output, reference in zip(outputs, model.reference(feeds), strict=True):
        np.testing.assert_allclose(output, reference, rtol=0, atol=1e-5)


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_a_factory_record_names_its_exporter(tmp_path: Path) -> None:
    from benchlib.models.torch_factory import load_factory_model

    exporter = load_factory_model(TWO_HEADS, {}).identity().get("exporter")
    assert exporter == "torch.onnx.export, torch.export-based (dynamo=True), opset 18"


def _batch_dims(values: Iterable[Any]) -> list[str | int]:
    """The first dimension of each graph input or output: its symbol, or its size if fixed."""
    dims = [value.type.tensor_type.shape.dim[0] for value in values]
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in dims]


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_a_factory_is_exported_by_torch_export_with_a_symbolic_batch(tmp_path: Path) -> None:
    import onnx
    import onnxruntime
    import torch

    from benchlib.models.torch_factory import load_factory_model
    from tests.user_factories import two_heads

    # a notice leaking out of the torch.export-based exporter would raise inside it and force the fallback
    with deprecations_as_errors(), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", UserWarning)
        model = load_factory_model(TWO_HEADS, {})
    assert model.identity()["exporter"] == "torch.onnx.export, torch.export-based (dynamo=True), opset 18"
    assert [str(w.message) for w in seen] == []  # torch's own warnings from inside the export stay inside
    graph = onnx.load(str(model.path))
    assert _batch_dims(graph.graph.input) == ["batch"] and _batch_dims(graph.graph.output) == ["batch", "batch"]
    assert [o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")] == [18]
    assert model.fixed_batch is None
    session = onnxruntime.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # neither is the export's example batch (2)
        feeds = model.random_input(batch, seed=batch)
        with torch.inference_mode():
            expected = two_heads().eval()(torch.from_numpy(feeds["input"]))
        for output, reference in zip(session.run(None, feeds), expected, strict=True):
            np.testing.assert_allclose(output, reference.numpy(), rtol=0, atol=1e-5)


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_a_factory_torch_export_rejects_falls_back_to_torchscript_and_the_record_says_why(
        tmp_path: Path) -> None:
    from benchlib.models.torch_factory import plan_factory
    from benchlib.models.user import load_model
    from benchlib.studies.verify import verify_named_model

    name = "torch:tests.user_factories:data_dependent"  # `if x.sum() > 0:` in forward
    extra = dict(plan_factory(name))  # planned in a child process, as every run plans a factory
    exporter = load_model(name, extra).identity()["exporter"]
    assert exporter.startswith("torch.onnx.export, TorchScript-based (dynamo=False, deprecated), opset 18, the "
                               "fallback: the torch.export-based exporter failed (TorchExportError: ")
    assert "GuardOnDataDependentSymNode: Could not guard on data-dependent expression" in exporter
    assert "\n" not in exporter and "\x1b" not in exporter and len(exporter) < 450
    results = {r.backend: r for r in verify_named_model(name, ["onnxruntime", "pytorch"])}
    assert all(r.status == "pass" for r in results.values()), results


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_a_factory_neither_exporter_takes_fails_its_records_with_both_reasons(tmp_path: Path) -> None:
    from benchlib.engine.grid import case_grid
    from benchlib.engine.launcher import run_case

    case = case_grid(["onnxruntime"], [1], models=["torch:tests.user_factories:refuses_export"], **FAST_CASE)[0]
    record = run_case(case)  # planned, then run, in child processes
    assert record["status"] == "failed"
    assert ("both ONNX exporters failed: torch.export-based: TorchExportError: Failed to export the model with "
            "torch.export. (caused by RuntimeError: this module refuses to be exported); TorchScript-based: "
            "RuntimeError: this module refuses to be exported") in record["traceback"]


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_a_factory_whose_code_fixes_the_batch_is_exported_with_that_batch_fixed(
        tmp_path: Path) -> None:
    from benchlib.errors import OnnxModelError
    from benchlib.models.torch_factory import load_factory_model

    model = load_factory_model("torch:tests.user_factories:batch_of_two", {})  # adds a (2, 3) buffer
    assert model.fixed_batch == 2
    assert model.identity()["exporter"].endswith("; the file fixes the batch dimension at 2 (the module's code "
                                                 "allows no other)")
    with pytest.raises(OnnxModelError, match="fixed batch dimension; allowed: 2"):
        model.random_input(3)


@needs_torch
@pytest.mark.usefixtures("tmp_outputs")
def test_what_a_factory_prints_while_it_is_exported_goes_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    from benchlib.models.torch_factory import load_factory_model

    load_factory_model("torch:tests.user_factories:prints", {})  # prints in forward, which the export traces
    out, err = capfd.readouterr()
    assert out == ""  # stdout is benchlib's own: no exporter progress line, no print of the module's
    assert "printed by forward" in err


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
