"""Hostile command-line inputs and environment variables: each is refused with exit status 2 and a message
naming the option or variable, the value and what is allowed, before anything runs; never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from benchlib.cli import main
from tests.conftest import ROOT, child_env, round_data

# -- fixtures ------------------------------------------------------------------------------------------------

#: Inputs of every kind a range is checked against: name -> ONNX element type.
KINDS = {"u": TensorProto.UINT8, "b": TensorProto.BOOL, "i": TensorProto.INT32, "x": TensorProto.FLOAT,
         "h": TensorProto.FLOAT16}


@pytest.fixture
def typed_model(tmp_path: Path) -> Path:
    """An ONNX file with a uint8, a bool, an int32, a float32 and a float16 input, each cast to a float output."""
    nodes = [helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT) for name in KINDS]
    graph = helper.make_graph(
        nodes, "typed",
        [helper.make_tensor_value_info(name, kind, ["batch", 3]) for name, kind in KINDS.items()],
        [helper.make_tensor_value_info(f"{name}_f", TensorProto.FLOAT, ["batch", 3]) for name in KINDS])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "typed.onnx"
    onnx.save(model, str(path))
    return path


def _cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchlib ARGS`` in a child process with extra environment variables (read at import)."""
    return subprocess.run([sys.executable, "-m", "benchlib", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or ROOT, env=child_env(**env))


def _verify(model: Path, *args: str, backend: str = "numpy") -> int:
    return main(["verify", "--backends", backend, "--models", str(model), *args])


# -- 10. --input-range: finite, LOW < HIGH, within the input's type -------------------------------------------

@pytest.mark.parametrize(("value", "allowed"), [
    ("i=0:inf", "finite"),
    ("i=0:1e30", "integer bounds within -2147483648:2147483648"),
    ("x=nan:1", "finite"),
    ("x=-inf:0", "finite"),
    ("u=0:300", "integer bounds within 0:256"),
    ("u=-1:5", "integer bounds within 0:256"),
    ("b=0:5", "within 0:2"),
    ("h=0:1e6", "65504"),
    ("x=-1e308:1.7e308", "difference is finite"),
])
def test_input_range_outside_the_input_type_is_refused(typed_model: Path, value: str, allowed: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(typed_model, "--input-range", value) == 2
    err = capsys.readouterr().err
    name = value.split("=")[0]
    assert "--input-range=" in err and f"input {name!r}" in err and allowed in err, err


def test_input_range_refusal_comes_before_any_run(typed_model: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["run", "--backends", "numpy", "--models", str(typed_model), "--input-range", "i=0:inf",
                 "--out", str(out), "--no-progress"]) == 2
    assert "--input-range=i=0:inf" in capsys.readouterr().err and not out.exists()


def test_input_range_within_the_input_type_is_accepted_and_drawn(typed_model: Path) -> None:
    from benchlib.models.user import load_model

    for value in ("u=0:256", "b=1:2", "i=-5:5", "h=-65504:65504"):
        assert _verify(typed_model, "--input-range", value, backend="onnxruntime") == 0, value
    model = load_model(str(typed_model), {"input_range": "u=250:256;b=1:2;i=-5:-3;h=-2:2"})
    feeds = model.random_input(64, seed=0)
    assert feeds["b"].all()  # 1:2 is True only
    assert feeds["u"].dtype == np.uint8 and feeds["u"].min() >= 250 and feeds["u"].max() <= 255
    assert set(np.unique(feeds["i"])) <= {-5, -4} and np.isfinite(feeds["h"]).all()


# -- 12. a terminal that cannot show ±; blocking benchlib's own requirement ----------------------------------

def _results_with_halfwidths(path: Path) -> Path:
    """Two records measured in rounds whose median's interval over rounds is ±1%."""
    records = [{"schema_version": 1, "created": "2026-01-01T00:00:00Z", "backend": backend, "model": "fnn",
                "batch_size": 1, "threads": None, "variant": variant, "protocol": "engine", "status": "ok",
                "error": None, "case_key": f"{backend}-1", "latency_ms": {"p50": p50, "p99": 3 * p50, "mean": p50},
                "latency_ci95_ms": {"p50": [0.99 * p50, 1.01 * p50]}, "throughput_sps": 1e3 / p50,
                "stopping": {"halfwidth": 0.01}, "warnings": [], "rounds": round_data(p50, 0.01, seed=backend)}
               for backend, variant, p50 in (("numpy", "default", 1.0), ("pytorch", "eager", 0.5))]
    for record in records:
        record["rounds"]["interval"]["halfwidth"] = 0.01
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_an_ascii_terminal_gets_ascii_stand_ins(tmp_path: Path) -> None:
    results = _results_with_halfwidths(tmp_path / "runs.jsonl")
    report = _cli("report", str(results), PYTHONIOENCODING="ascii")
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert "+/-1.0%" in report.stdout  # the ±95% over rounds column, as the table printed after a run shows it
    helped = _cli("run", "--help", PYTHONIOENCODING="ascii")
    assert helped.returncode == 0 and "+/-1%" in helped.stdout, helped.stderr
    refused = _cli("run", "--target-ci", "2", PYTHONIOENCODING="ascii")
    assert refused.returncode == 2 and "+/-1%" in refused.stderr


def test_the_stand_ins_leave_an_encodable_text_alone() -> None:
    import io

    from benchlib.notebook.console import degrade_to_ascii

    for encoding, expected in (("ascii", b"+/-1% 3 us 2x3 -> e"), ("utf-8", "±1% 3 µs 2×3 → é".encode())):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding=encoding)
        degrade_to_ascii(stream)
        stream.write("±1% 3 µs 2×3 → é")
        stream.flush()
        assert raw.getvalue() == expected


@pytest.mark.parametrize(("value", "named"), [("numpy", "numpy"), ("torch,pandas", "pandas"),
                                              ("sklearn", "sklearn"), ("torch.nn", "torch.nn")])
def test_block_imports_refuses_what_cannot_be_blocked(value: str, named: str) -> None:
    proc = _cli("env", BENCHLIB_BLOCK_IMPORTS=value)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"BENCHLIB_BLOCK_IMPORTS={value!r}" in proc.stderr and repr(named) in proc.stderr
    assert "allowed:" in proc.stderr and "tensorflow" in proc.stderr  # the blockable frameworks are listed


def test_blockable_frameworks_are_the_registry_s() -> None:
    from benchlib.backends.registry import REGISTRY
    from benchlib.system.blocker import BLOCKABLE, FRAMEWORK_MODULES, OWN_REQUIREMENTS

    modules = {m for entry in REGISTRY.values() for m in entry.modules}
    assert set(FRAMEWORK_MODULES) == modules - set(OWN_REQUIREMENTS)
    assert not set(BLOCKABLE) & set(OWN_REQUIREMENTS)
    blocked = _cli("verify", "--backends", "numpy", "pytorch", "--models", "fnn", "--json",
                   BENCHLIB_BLOCK_IMPORTS="torch")
    rows = {r["backend"]: r for r in json.loads(blocked.stdout)}
    assert rows["pytorch"]["status"] == "skipped" and rows["numpy"]["status"] == "pass"


# -- 16. every BENCHLIB_* variable: the same checks as the option it stands for -------------------------------

@pytest.mark.parametrize("value", ["-1", "nan", "inf", "busy", "-0.5"])
def test_load_before_batch_is_checked(value: str, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCHLIB_LOAD_BEFORE_BATCH", value)
    assert main(["env"]) == 2
    err = capsys.readouterr().err
    assert f"BENCHLIB_LOAD_BEFORE_BATCH={value!r} is invalid" in err and "finite number >= 0" in err


def test_a_valid_load_before_batch_is_judged_and_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchlib.engine.params import check_parameters
    from benchlib.system.env import collect_env

    monkeypatch.setenv("BENCHLIB_LOAD_BEFORE_BATCH", "1e6")  # busy on any machine
    env = collect_env()
    assert env["load_avg_before_batch"] == 1e6 and any("busy machine" in w for w in env["warnings"])
    monkeypatch.setenv("BENCHLIB_LOAD_BEFORE_BATCH", "-1")
    with pytest.raises(ValueError, match=r"BENCHLIB_LOAD_BEFORE_BATCH='-1' is invalid"):
        check_parameters(backend="numpy")  # a notebook's parameter check refuses it too


def test_the_suite_checks_the_variables_before_anything_runs(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.notebook import suite

    def nothing_may_run() -> Path:
        raise AssertionError("the suite started although BENCHLIB_LOAD_BEFORE_BATCH is invalid")

    monkeypatch.setattr(suite, "logs_dir", nothing_may_run)  # the first step of a run (verification's log)
    monkeypatch.setenv("BENCHLIB_LOAD_BEFORE_BATCH", "-1")
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--keep-results"])
    assert exit_info.value.code == 2
    assert "BENCHLIB_LOAD_BEFORE_BATCH='-1' is invalid" in capsys.readouterr().err


def _a_file(tmp_path: Path) -> str:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return str(path)


BAD_VALUES = {
    "BENCHLIB_OUTPUTS": (_a_file, "not a folder"),
    "BENCHLIB_LOAD_BEFORE_BATCH": (lambda _: "-1", "finite number >= 0"),
    "BENCHLIB_LOAD_BEFORE_BATCH_OWNER": (lambda _: " ", "fleet run"),
    "BENCHLIB_TEST_FAULTS": (lambda _: "yes", "0 or 1"),
    "BENCHLIB_LAUNCHER_PID": (lambda _: "me", "positive integer"),
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_every_environment_variable_is_checked(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    make, allowed = BAD_VALUES[name]
    value = make(tmp_path)
    monkeypatch.setenv(name, value)
    assert main(["env"]) == 2
    err = capsys.readouterr().err
    assert f"{name}={value!r}" in err and allowed in err and "allowed:" in err, err


def test_outputs_inside_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCHLIB_OUTPUTS", str(Path(_a_file(tmp_path)) / "outputs"))
    assert main(["report", str(tmp_path)]) == 2
    assert "which is a file, not a folder" in capsys.readouterr().err


def test_the_checks_cover_every_variable_benchlib_reads(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from benchlib.engine.env_params import ENV_CHECKS

    read = {name for path in (ROOT / "benchlib").rglob("*.py")
            for name in re.findall(r"BENCHLIB_[A-Z_]*[A-Z](?![A-Z_*])", path.read_text())}
    assert read and read <= set(ENV_CHECKS) and set(BAD_VALUES) | {"BENCHLIB_BLOCK_IMPORTS"} == set(ENV_CHECKS)
    monkeypatch.setenv("BENCHLIB_OUTPUT", "/tmp")  # a misspelt name: no effect, so a note says so
    assert main(["env"]) == 0
    assert "note: BENCHLIB_OUTPUT is not a variable benchlib reads" in capsys.readouterr().err


# -- minor: zoo models with --input-shape, one file named three ways, fleet's --models ------------------------

@pytest.mark.parametrize("option", [("--input-shape", "x=3"), ("--input-range", "x=0:1")])
def test_input_options_with_zoo_models_only_are_refused(option: tuple[str, str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--backends", "numpy", "--models", "fnn", *option]) == 2
    err = capsys.readouterr().err
    assert f"{option[0]} given with the zoo model(s) fnn" in err and "apply to ONNX files" in err
    out = tmp_path / "never"
    assert main(["run", "--backends", "numpy", "--models", "fnn", *option, "--out", str(out), "--no-progress",
                 "--min-time-s", "0.01", "--warmup-time-s", "0", "--warmup-calls", "0", "--min-calls", "1",
                 "--target-ci", "0"]) == 2
    assert "zoo model(s) fnn" in capsys.readouterr().err and not out.exists()


def test_one_file_named_three_ways_runs_once(typed_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(typed_model.parent)
    names = [typed_model.name, f"./{typed_model.name}", str(typed_model)]
    main(["verify", "--backends", "numpy", "--models", *names, "--json"])  # numpy skips an ONNX file
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 1  # one row: numpy, once
    assert "name one file" in captured.err and "runs once" in captured.err
    out = tmp_path / "results" / "run.jsonl"  # what run writes in its --out folder
    main(["run", "--backends", "numpy", "--models", *names, "--batch-sizes", "1", "--out", str(tmp_path),
          "--no-progress"])  # numpy skips an ONNX file, so nothing is measured
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["model"] for r in records] == [typed_model.name]  # once, under the first spelling


@pytest.mark.parametrize("command", ["fleet"])  # sweep takes a user's model: tests/test_user_model_studies.py
def test_fleet_help_offers_only_the_models_it_takes(command: str, typed_model: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    models = help_text[help_text.index("models to include"):help_text.index("default: fnn")]
    assert "fnn" in models and ".onnx" not in models and "torch:" not in models
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--models", str(typed_model)] + (["--local", "1"] if command == "fleet" else []))
    assert exit_info.value.code == 2
    assert f"--models={str(typed_model)!r} is invalid; allowed: fnn" in capsys.readouterr().err


def test_a_bad_load_before_batch_that_reaches_a_worker_is_stored_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge refuses it; a process reached through the Python API records no figure rather than failing."""
    from benchlib.system.env import BATCH_LOAD_ENV, collect_env

    monkeypatch.setenv(BATCH_LOAD_ENV, "-1")
    assert collect_env()["load_avg_before_batch"] is None
    monkeypatch.setenv(BATCH_LOAD_ENV, "0.5")
    assert collect_env()["load_avg_before_batch"] == 0.5
