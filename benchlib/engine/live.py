"""A case's process kept warm for interleaved rounds: the worker's run first, then timed blocks on demand.

:func:`prepare` runs the one worker (:func:`benchlib.engine.worker.run_case_payload`: build, precision,
output check, memory, first call, warm-up and a short timed loop) and keeps the predictor and its input
batch in this process. Each :func:`timed_block` then runs the engine's timed loop, in fixed mode, for
the block's seconds on that predictor, and returns the block's median (of every call), up to
:data:`BLOCK_SAMPLES` calls' times and the CPU time it used.
Both run in a :class:`benchlib.system.child.ChildSession`, called by :mod:`benchlib.engine.rounds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchlib.engine import worker
from benchlib.engine.case import RunCase
from benchlib.engine.timing import timed_loop

#: The cold phase's timed loop in rounds mode: short and fixed; the rounds measure the answer.
COLD_LOOP_MIN_TIME_S = 0.05
#: Untimed calls before each block: the caches and branch predictors other processes used since the
#: last block are this process's again before the first timed call.
REWARM_CALLS = 2

#: Calls a block sends back at most (evenly thinned): the percentiles of a case come from these.
BLOCK_SAMPLES = 1000

_KEPT: dict[str, Any] = {}


def keep(predict: Callable[[Any], Any], inputs: Any) -> None:
    """Called by the worker once the predictor is built, checked and warm."""
    _KEPT["predict"], _KEPT["inputs"] = predict, inputs


def prepare(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the worker on the case in ``payload`` with a short fixed timed loop; keep its predictor here."""
    case = dict(payload)
    case.pop("rounds_extra_process", None)
    requested = {key: case.get(key) for key in ("min_time_s", "target_ci", "max_time_s")}
    case.update(min_time_s=COLD_LOOP_MIN_TIME_S, target_ci=0.0, max_time_s=None)
    worker.ON_READY = keep
    try:
        record = worker.run_case_payload(case)
    finally:
        worker.ON_READY = None
    if record.get("status") == "ok" and "predict" not in _KEPT:
        record = {**record, "status": "failed",
                  "error": "the worker finished without handing over its predictor for the rounds"}
    # the record describes the case as asked (its settings and key, which resuming matches); the cold
    # phase's short loop is noted apart
    stored = record.get("case") if isinstance(record.get("case"), dict) else record
    stored.update(requested)
    asked = dict(payload)
    asked.pop("rounds_extra_process", None)
    record["case_key"] = RunCase.from_dict(asked, checked=True).case_key
    record["cold_loop"] = {"min_time_s": COLD_LOOP_MIN_TIME_S, "target_ci": 0.0}
    return record


def timed_block(payload: dict[str, Any]) -> dict[str, Any]:
    """One timed block of ``payload["seconds"]`` on the kept predictor: every call's ns and the CPU time used."""
    if "predict" not in _KEPT:
        raise RuntimeError("no predictor in this process: prepare() must run first")
    predict, inputs = _KEPT["predict"], _KEPT["inputs"]
    for _ in range(REWARM_CALLS):
        predict(inputs)
    cpu_start = time.process_time()
    loop = timed_loop(predict, inputs, min_calls=1, min_time_s=float(payload["seconds"]))
    cpu_s = time.process_time() - cpu_start
    samples = loop.samples_ns
    stride = max(1, -(-samples.size // BLOCK_SAMPLES))
    # the median from every call; the distribution from an even thinning (time order kept)
    return {"median_ns": float(np.median(samples)), "n_calls": int(samples.size),
            "calls_ns": samples[::stride].tolist(), "cpu_s": cpu_s}
