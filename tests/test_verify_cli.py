"""`benchlib verify`: backend x model table and JSON output, per-model tolerances, exit status."""

from __future__ import annotations

import json

import pytest

from benchlib.cli import main
from benchlib.models import MODELS, get_model
from benchlib.studies.verify import verify_backend


def test_verify_json_reports_each_backend_and_model(capsys) -> None:
    assert main(["verify", "--backends", "numpy", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["backend"], row["model"]) for row in rows] == [("numpy", m) for m in MODELS]
    for row in rows:
        assert {"backend", "model", "version", "max_abs_err", "tolerance", "ok", "batch_sizes"} <= set(row)
        spec = get_model(row["model"])
        assert row["tolerance"] == spec.tolerance <= 1e-4
        assert row["batch_sizes"] == list(spec.verify_batch_sizes)
        assert row["ok"] is True and row["max_abs_err"] <= row["tolerance"]


def test_verify_table_has_a_column_per_model_with_its_tolerance(capsys) -> None:
    assert main(["verify", "--backends", "numpy", "--models", "fnn", "lstm_spam"]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert "fnn (tol 1e-05)" in header and "lstm_spam (tol 1e-05)" in header and "resnet8" not in header
    assert row.startswith("numpy") and row.count(" ok") == 2
    assert "2 backend x model check(s): 2 passed" in out


def test_model_alias_still_works(capsys) -> None:
    assert main(["verify", "--backends", "numpy", "--model", "fnn", "--json"]) == 0
    assert [row["model"] for row in json.loads(capsys.readouterr().out)] == ["fnn"]


def test_verify_fails_a_diverging_backend(monkeypatch) -> None:
    from benchlib.backends.numpy import NumpyBackend

    original = NumpyBackend._make_predictor

    def perturbed(self):
        predict = original(self)
        return lambda inputs: predict(inputs) + 1e-3

    monkeypatch.setattr(NumpyBackend, "_make_predictor", perturbed)
    result = verify_backend("numpy", get_model("fnn"))
    assert result.status == "fail" and not result.ok and "tolerance 1e-05" in result.reason
    assert main(["verify", "--backends", "numpy", "--models", "fnn"]) == 1


def test_a_layer_kind_a_backend_cannot_build_is_skipped_naming_it(monkeypatch) -> None:
    from benchlib.backends import numpy_layers

    monkeypatch.delitem(numpy_layers.NUMPY_BUILDERS, "lstm")
    result = verify_backend("numpy", get_model("lstm_spam"))
    assert result.status == "skipped" and "layer kind 'lstm'" in result.reason
    assert verify_backend("numpy", get_model("fnn")).status == "pass"  # the others go on


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backends", "caffe"], "--backends='caffe' is unknown; allowed: numpy"),
        (["--models", "resnet"], "--models='resnet' is unknown; allowed: fnn, resnet8, bert_tiny, lstm_spam"),
        (["--variants", "turbo"], "--variants='turbo' is not offered by any selected backend; allowed: all"),
    ],
)
def test_verify_refuses_unknown_names(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        status = main(["verify", *argv])
        raise SystemExit(status)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_verify_takes_several_thread_settings_each_in_turn(capsys) -> None:
    assert main(["verify", "--backends", "numpy", "--models", "fnn", "--threads", "1", "default", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["backend"], row["threads"], row["status"]) for row in rows] == [("numpy", 1, "pass"),
                                                                                ("numpy", None, "pass")]
    assert main(["verify", "--backends", "numpy", "--models", "fnn", "--threads", "1", "default"]) == 0
    table = capsys.readouterr().out
    assert "numpy t=1 " in table and "numpy t=default " in table
