"""`benchlib verify`: table and JSON output, exit status."""

from __future__ import annotations

import json

import pytest

from benchlib.cli import main
from benchlib.verify import verify_backend


def test_verify_json_reports_each_backend(capsys) -> None:
    assert main(["verify", "--backends", "numpy", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["backend"] for row in rows] == ["numpy"]
    assert {"backend", "version", "max_abs_err", "ok"} <= set(rows[0])
    assert rows[0]["ok"] is True and rows[0]["max_abs_err"] <= 1e-5


def test_verify_table(capsys) -> None:
    assert main(["verify", "--backends", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "PASS" in out


def test_verify_fails_a_diverging_backend(monkeypatch) -> None:
    from benchlib.backends.numpy import NumpyBackend
    from benchlib.models import get_model

    original = NumpyBackend._make_predictor

    def perturbed(self):
        predict = original(self)
        return lambda inputs: predict(inputs) + 1e-3

    monkeypatch.setattr(NumpyBackend, "_make_predictor", perturbed)
    result = verify_backend("numpy", get_model("fnn"))
    assert result.status == "fail" and not result.ok and "tolerance" in result.reason
    assert main(["verify", "--backends", "numpy"]) == 1


def test_verify_refuses_unknown_backend(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--backends", "caffe"])
    assert exit_info.value.code == 2
    assert "--backends='caffe' is unknown; allowed: numpy" in capsys.readouterr().err
