"""A measuring process holds the framework alone: what else is installed is not counted as the framework's.

Real worker processes: each returns its record and which packages it then held.
"""

from __future__ import annotations

import sys

import pytest

from benchlib.engine.case import RunCase
from tests.conftest import FIVE_CALLS_CASE, measure_in_child


def test_tensorflow_is_measured_without_the_packages_it_loads_only_when_installed() -> None:
    pytest.importorskip("tensorflow")
    from benchlib.backends.tensorflow import TensorFlowBackend

    result = measure_in_child(RunCase(backend="tensorflow", batch_size=2, threads=1, **FIVE_CALLS_CASE))
    record = result["record"]
    assert record["status"] == "ok", record["error"]
    assert result["modules"] == ["keras", "tensorflow"]  # no JAX, scikit-learn, pandas or matplotlib
    assert record["thread_settings"]["hidden_at_import"] == list(TensorFlowBackend.hidden_when_measured)
    assert record["outputs_valid"] is True


def test_outside_a_measurement_nothing_is_hidden() -> None:
    from benchlib.backends import create_backend
    from benchlib.models import get_model
    from benchlib.system.blocker import hidden_packages

    backend = create_backend("numpy", get_model("fnn"))
    assert backend.hidden_at_import == ()
    backend.prepare_for_measurement((1,))
    assert backend.measuring and backend.measured_batch_sizes == (1,)
    with hidden_packages(["json_hidden_for_test"]):
        with pytest.raises(ImportError, match="while it measures one framework alone"):
            __import__("json_hidden_for_test")
    import json  # an imported package stays importable, and the hider is gone after the block

    assert json.dumps(1) == "1" and not any(type(f).__name__ == "_Hider" for f in sys.meta_path)
