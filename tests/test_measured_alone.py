"""A measuring process holds the framework alone: what else is installed is not counted as the framework's.

Real worker processes: each returns its record and which packages it then held.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from benchlib.engine.case import RunCase
from benchlib.system.child import run_in_child

FAST = {"min_time_s": 0.0, "min_calls": 5, "warmup_time_s": 0.0, "warmup_calls": 1}
WATCHED = ("tensorflow", "keras", "jax", "sklearn", "pandas", "matplotlib")


def worker_and_modules(payload: dict[str, Any]) -> dict[str, Any]:
    """Child entry: the measuring worker's record, and which of :data:`WATCHED` the process then held."""
    from benchlib.engine.worker import run_case_payload

    record = run_case_payload(payload)
    return {"record": record, "modules": sorted(name for name in WATCHED if name in sys.modules)}


def measure_in_child(case: RunCase) -> dict[str, Any]:
    """Run ``case`` through the measuring worker in a fresh process (as the launcher does)."""
    child = run_in_child("tests.test_measured_alone:worker_and_modules", case.to_dict(), 600, what="record")
    assert child.ok, f"{child.error}\n{child.stderr_tail}"
    return child.value


def test_tensorflow_is_measured_without_the_packages_it_loads_only_when_installed() -> None:
    pytest.importorskip("tensorflow")
    from benchlib.backends.tensorflow import TensorFlowBackend

    result = measure_in_child(RunCase(backend="tensorflow", batch_size=2, threads=1, **FAST))
    record = result["record"]
    assert record["status"] == "ok", record["error"]
    assert result["modules"] == ["keras", "tensorflow"]  # no JAX, scikit-learn, pandas or matplotlib
    assert record["thread_settings"]["hidden_at_import"] == list(TensorFlowBackend.hidden_when_measured)
    assert record["outputs_valid"] is True


def test_outside_a_measurement_nothing_is_hidden() -> None:
    from benchlib.system.blocker import hidden_packages
    from benchlib.backends import create_backend
    from benchlib.models import get_model

    backend = create_backend("numpy", get_model("fnn"))
    assert backend.hidden_at_import == ()
    backend.prepare_for_measurement((1,))
    assert backend.measuring and backend.measured_batch_sizes == (1,)
    with hidden_packages(["json_hidden_for_test"]):
        with pytest.raises(ImportError, match="while it measures one framework alone"):
            __import__("json_hidden_for_test")
    import json  # an imported package stays importable, and the hider is gone after the block

    assert json.dumps(1) == "1" and not any(type(f).__name__ == "_Hider" for f in sys.meta_path)
