"""A PyTorch model named by its factory: run natively, exported once for ONNX Runtime and OpenVINO."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlib.cli import main
from benchlib.engine.grid import case_grid
from benchlib.engine.launcher import run_case
from benchlib.models.torch_factory import ONNX_KEY, WEIGHTS_KEY, export_payload, plan_factory
from benchlib.models.user import load_model
from benchlib.studies.verify import verify_named_model
from tests.conftest import FAST_CASE, TWO_HEADS

pytestmark = pytest.mark.usefixtures("tmp_outputs")


def test_factory_runs_natively_and_as_its_export_with_every_output_checked(tmp_path: Path) -> None:
    results = {r.backend: r for r in verify_named_model(TWO_HEADS, ["pytorch", "onnxruntime", "openvino", "jax"])}
    for name in ("pytorch", "onnxruntime", "openvino", "jax"):  # JAX: the export, through jaxonnxruntime
        assert results[name].status == "pass", results[name].reason
    extra = dict(plan_factory(TWO_HEADS))
    export = Path(extra[ONNX_KEY])
    assert export.parent == tmp_path / "outputs" / "models"
    model = load_model(TWO_HEADS, extra)
    info = model.identity()
    assert info["kind"] == "factory" and info["factory"] == TWO_HEADS and info["weights_sha256"] == extra[WEIGHTS_KEY]
    assert [o["name"] for o in info["outputs"]] == ["output_0", "output_1"]
    assert info["parameter_count"] == 16 * 32 + 32 + 32 * 4 + 4 + 32 + 1
    assert info["flops_per_sample"] == 2 * (16 * 32 + 32 * 4 + 32)
    stamp = export.stat().st_mtime_ns
    plan_factory.cache_clear()
    assert dict(plan_factory(TWO_HEADS))[ONNX_KEY] == str(export) and export.stat().st_mtime_ns == stamp  # cached


def test_factory_records(tmp_path: Path) -> None:
    case = case_grid(["pytorch"], [2], models=[TWO_HEADS], **FAST_CASE)[0]
    record = run_case(case)
    assert record["status"] == "ok" and record["outputs_valid"] is True, record.get("error")
    assert record["model_info"]["kind"] == "factory"
    broken = run_case(case_grid(["pytorch"], [1], models=["torch:tests.user_factories:raises"], **FAST_CASE)[0])
    assert broken["status"] == "failed" and "factory broke on purpose" in broken["traceback"]


def test_a_factory_with_new_weights_on_each_call_fails_pytorch() -> None:
    results = {r.backend: r for r in verify_named_model("torch:tests.user_factories:unseeded", ["pytorch"])}
    assert results["pytorch"].status == "fail" and "other weights than the ones exported" in results["pytorch"].reason


@pytest.mark.parametrize("name, message", [
    ("torch:tests.user_factories:missing", "has no function 'missing'"),
    ("torch:tests.no_such_module:make", "does not import"),
])
def test_factories_that_do_not_import_are_refused(name: str, message: str) -> None:
    result = export_payload({"factory": name})  # what planning's child process answers
    assert result["refused"] is True and message in result["error"]


@pytest.mark.parametrize("name, message", [
    ("torch:tests.user_factories:not_a_module", "returned int; allowed: a torch.nn.Module"),
    ("torch:not a path", "allowed: torch:package.module:function"),
    ("keras:not a path", "allowed: keras:package.module:function"),
])
def test_bad_factories_are_refused_with_status_2(name: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = None
    try:
        status = main(["run", "--models", name, "--backends", "onnxruntime", "--no-progress"])
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err
    if not name.startswith("torch:tests."):  # the form alone is refused by the case grid too, with no child process
        with pytest.raises(ValueError, match=message):
            case_grid(["onnxruntime"], [1], models=[name])
