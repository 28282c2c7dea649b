"""User models a hostile user would give: memory bounded before allocating, timeouts in planning,
shapes that cannot be batched, broken factories and data, noisy factories, all-skipped verifies and
fixed-batch models. Every ONNX model is built here with ``onnx.helper``; the factories below are
imported by name (``torch:tests.test_hardening_user_models:...``) in child processes too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import onnx
import psutil
import pytest
import torch
from onnx import TensorProto, helper

from benchlib.cli import main
from tests.conftest import FAST_CASE, ROOT
from tests.user_onnx_models import save, two_input_model

pytestmark = pytest.mark.usefixtures("tmp_outputs")

THIS = "tests.test_hardening_user_models"

# -- factories (imported by name in every process that builds them) ---------------------------------

if os.environ.get("HARDENING_NOISY"):
    print("noise printed by the factory's module at import")


def noisy() -> torch.nn.Module:
    """A factory that prints (at import above, when called, and in forward)."""
    print("noise printed by the factory call")
    torch.manual_seed(0)

    class Noisy(torch.nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            print("noise printed by forward")
            return super().forward(x)

    model = Noisy(4, 2)
    model.benchlib_input_shape = (4,)
    return model


def hangs() -> torch.nn.Module:
    """Hangs the first time (after starting a grandchild in a session of its own); raises on later calls."""
    marker = Path(os.environ["HARDENING_HANG_DIR"]) / "hung"
    if marker.exists():
        raise RuntimeError("this factory hung once already")
    marker.touch()
    subprocess.Popen(["sleep", os.environ["HARDENING_SLEEP"]], start_new_session=True)
    time.sleep(45)  # far beyond the test's --timeout-s; bounded so that a broken timeout fails, not hangs
    raise RuntimeError("stopped hanging")


# -- helpers -----------------------------------------------------------------------------------------


def relu_model(path: Path, dims: list, out_dims: list | None = None) -> Path:
    """y = Relu(x), x float32 of shape ``dims`` (names are dynamic dimensions)."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims or dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def empty_slice_model(path: Path) -> Path:
    """x [N, 8] → x[:, 8:8]: an output whose declared shape is dynamic but that is always empty."""
    consts = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("s", 8), ("e", 8), ("a", 1))]
    graph = helper.make_graph([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], "empty",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "k"])], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def status_of(argv: list[str]) -> int:
    """``main(argv)``'s exit status, whether argparse exits or the command returns."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.fixture
def no_child(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fails the command (and records it) if any child process is started."""
    import benchlib.engine.launcher
    import benchlib.system.child

    started: list = []

    def refuse_to_start(target: str, *args: object, **kwargs: object) -> None:
        started.append(target)
        raise AssertionError(f"a child process was started ({target}) before the refusal")

    monkeypatch.setattr(benchlib.system.child, "run_in_child", refuse_to_start)
    monkeypatch.setattr(benchlib.engine.launcher, "run_in_child", refuse_to_start)
    return started


# -- 5. memory is bounded before it is allocated ------------------------------------------------------

# 10^12 float32 elements per sample (4 TB): no machine draws it; the estimate must refuse it first.
HUGE = ["N", 1000000, 1000000]


def test_verify_refuses_a_model_too_large_for_memory_with_the_estimate(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = relu_model(tmp_path / "huge.onnx", HUGE)
    assert status_of(["verify", "--models", str(path), "--backends", "onnxruntime"]) == 2
    err = capsys.readouterr().err
    assert "batch size 3 of model 'huge' needs about" in err and "TiB" in err and "per sample" in err
    assert "allowed: smaller input shapes (--input-shape)" in err and "not even batch size 1" in err


def test_input_shape_too_large_for_memory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = relu_model(tmp_path / "dyn.onnx", ["N", "d"])
    assert status_of(["verify", "--models", str(path), "--backends", "onnxruntime",
                      "--input-shape", "x=999999999999"]) == 2
    assert "needs about" in capsys.readouterr().err


def test_run_refuses_before_any_child_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             no_child: list) -> None:
    path = relu_model(tmp_path / "huge.onnx", HUGE)
    out = tmp_path / "out"
    assert status_of(["run", "--models", str(path), "--backends", "onnxruntime", "--no-progress",
                      "--out", str(out)]) == 2
    assert "batch size 32 of model 'huge' needs about" in capsys.readouterr().err
    # A factory's input given too large is refused before its planning process starts.
    assert status_of(["run", "--models", "torch:tests.user_factories:two_heads", "--backends", "onnxruntime",
                      "--input-shape", "input=1000000,1000000", "--no-progress", "--out", str(out)]) == 2
    assert "the input of torch:tests.user_factories:two_heads" in capsys.readouterr().err
    assert no_child == [] and not out.exists()


def test_the_estimate_gives_the_largest_batch_that_fits(tmp_path: Path) -> None:
    from benchlib.engine.grid import case_grid
    from benchlib.models.user import load_model

    model = load_model(str(relu_model(tmp_path / "wide.onnx", ["N", 1000])))
    per_sample = model.memory_estimate_bytes(2) - model.memory_estimate_bytes(1)
    assert per_sample >= 1000 * 4 * 2  # at least the input and the output, float32
    available = model.memory_estimate_bytes(50)
    assert model.batch_memory_problem(50, available) is None
    problem = model.batch_memory_problem(64, available)
    assert "batch size 64 of model 'wide'" in problem and "allowed: batch sizes up to about 50" in problem
    with pytest.raises(ValueError, match="needs about"):  # the library's case grid refuses it too
        case_grid(["onnxruntime"], [1], models=[str(relu_model(tmp_path / "huge.onnx", HUGE))], **FAST_CASE)


# -- 7. every documented timeout holds in factory planning --------------------------------------------


def test_a_hanging_factory_is_killed_at_run_timeout_with_its_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    marker = f"{600 + uuid.uuid4().int % 10**6 / 10**7:.7f}"  # a sleep this test alone starts
    monkeypatch.setenv("HARDENING_HANG_DIR", str(tmp_path))
    monkeypatch.setenv("HARDENING_SLEEP", marker)
    status = status_of(["run", "--models", f"torch:{THIS}:hangs", "--backends", "onnxruntime", "--timeout-s", "8",
                        "--min-time-s", "0.1", "--warmup-time-s", "0", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "did not finish within --timeout-s=8 s" in err and f"torch:{THIS}:hangs" in err
    leftovers = [p for p in psutil.process_iter(["cmdline", "status"])
                 if p.info["cmdline"] == ["sleep", marker] and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert leftovers == []


# -- 9. no traceback: a raising factory, short external data, a changed static dimension ----------------


def test_verify_reports_a_factory_that_raises_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert status_of(["verify", "--models", "torch:tests.user_factories:raises", "--backends", "onnxruntime"]) == 1
    out = capsys.readouterr().out
    assert "factory raised: RuntimeError: factory broke on purpose" in out and "raises" in out.splitlines()[0]


def test_external_data_shorter_than_declared_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(two_input_model(), tmp_path / "ext.onnx", external=True)
    data = tmp_path / "ext.onnx.data"
    data.write_bytes(data.read_bytes()[:500])
    for command in ("verify", "run"):
        assert status_of([command, "--models", str(path), "--backends", "onnxruntime"]) == 2
        err = capsys.readouterr().err
        assert "tensor 'table' needs 1600 bytes of external data" in err and "which has only" in err


def test_input_shape_may_not_change_a_static_dimension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = relu_model(tmp_path / "static.onnx", ["N", 8])
    assert status_of(["verify", "--models", str(path), "--backends", "onnxruntime", "--input-shape", "x=9"]) == 2
    err = capsys.readouterr().err
    assert "input 'x' as 9, but static.onnx fixes it at 8; allowed: x=8" in err


# -- 13. shapes that cannot be batched; zero-size tensors ----------------------------------------------


@pytest.mark.parametrize("dims, message", [
    ([4], "has shape [4]: its only dimension is fixed, so it has no batch axis"),
    (["N", 0], "with a dimension of size 0"),
    ([0, 8], "with a dimension of size 0"),
])
def test_shapes_that_cannot_be_batched_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], dims: list,
                                                   message: str) -> None:
    path = relu_model(tmp_path / "odd.onnx", dims)
    for command in (["verify"], ["run", "--no-progress"]):
        assert status_of([*command, "--models", str(path), "--backends", "onnxruntime"]) == 2
        assert message in capsys.readouterr().err


def test_an_output_that_is_always_empty_fails_verification(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = empty_slice_model(tmp_path / "empty.onnx")
    assert status_of(["verify", "--models", str(path), "--backends", "onnxruntime"]) == 1
    assert "output 'y' of empty is empty (shape [1, 0])" in capsys.readouterr().out


# -- minor: pure JSON, all-skipped verifies, fixed-batch models --------------------------------------------


def test_a_noisy_factory_leaves_verify_json_pure(tmp_path: Path) -> None:
    env = {**os.environ, "HARDENING_NOISY": "1", "BENCHLIB_OUTPUTS": str(tmp_path / "outputs")}
    done = subprocess.run([sys.executable, "-m", "benchlib", "verify", "--models", f"torch:{THIS}:noisy",
                           "--backends", "pytorch", "onnxruntime", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    rows = json.loads(done.stdout)  # nothing but the JSON list on stdout
    assert {row["backend"]: row["status"] for row in rows} == {"pytorch": "pass", "onnxruntime": "pass"}, done.stderr
    for noise in ("by the factory's module at import", "by the factory call", "by forward"):
        assert f"noise printed {noise}" in done.stderr


def test_verify_with_every_backend_skipped_is_not_a_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(two_input_model(), tmp_path / "two.onnx")
    assert status_of(["verify", "--models", str(path), "--backends", "numpy", "--json"]) == 1
    captured = capsys.readouterr()
    assert [row["status"] for row in json.loads(captured.out)] == ["skipped"]
    assert f"nothing was verified for {path}: every backend was skipped" in captured.err


def test_a_fixed_batch_model_is_never_reshaped(tmp_path: Path) -> None:
    from benchlib.backends.user_onnx import UserOpenVinoBackend
    from benchlib.engine.grid import case_grid
    from benchlib.engine.launcher import run_case
    from benchlib.errors import UnsupportedVariantError
    from benchlib.models.user import load_model

    path = relu_model(tmp_path / "fixed.onnx", [1, 8])
    predict = UserOpenVinoBackend(load_model(str(path))).raw_predictor()
    assert predict({"x": np.ones((1, 8), np.float32)})[0].shape == (1, 8)  # its own batch runs
    with pytest.raises(UnsupportedVariantError, match="fixes the batch dimension at 1"):
        predict({"x": np.ones((4, 8), np.float32)})
    records = {(c.backend, c.batch_size): run_case(c)
               for c in case_grid(["openvino", "onnxruntime"], [1, 4], models=[str(path)], **FAST_CASE)}
    for backend in ("openvino", "onnxruntime"):
        assert records[(backend, 1)]["status"] == "ok", records[(backend, 1)].get("error")
        skipped = records[(backend, 4)]
        assert skipped["status"] == "skipped" and "fix the batch dimension at 1" in skipped["error"]


def test_inputs_with_different_fixed_batch_sizes_are_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "two_batches",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "two_batches.onnx"
    onnx.save(model, str(path))
    assert status_of(["verify", "--models", str(path), "--backends", "onnxruntime", "openvino"]) == 2
    assert "have different fixed batch sizes (a: 1, b: 2)" in capsys.readouterr().err
