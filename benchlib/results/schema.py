"""The versioned record schema: one JSON object per run (documented in docs/results.md)."""

from __future__ import annotations

import datetime as _dt
import math
import uuid
from typing import Any

#: Bump when a key changes meaning or disappears; readers skip records newer than they know.
#: 2: article-protocol records are made by :func:`make_record` like every other (``case_key``,
#: ``model``, ``env``, ``env_key``; their ``version`` is now ``framework_version``).
#: 3: each case field is stored once: ``case`` holds what the record's own keys do not (the timed loop's
#: settings, ``extra``; a case field only where the record says otherwise, as the requested variant beside
#: the resolved one). Older files stay readable; :func:`upgrade_record` gives their records the current shape.
SCHEMA_VERSION = 3

STATUSES = ("ok", "failed", "skipped")

#: What a case is: the fields of a record that say what was measured, not for how long (the timed loop's
#: length and precision target are left out on purpose: a re-run with a longer loop is the same case, and its
#: newer record replaces the older). :func:`benchlib.results.records.case_identity` reads them.
CASE_FIELDS: tuple[str, ...] = ("model", "backend", "variant", "precision", "batch_size", "threads", "protocol",
                                "scenario")
#: What a case field means in a record that leaves it unset (written before that dimension existed).
CASE_DEFAULTS: dict[str, str] = {"precision": "fp32", "scenario": "single"}

LATENCY_KEYS = ("mean", "std", "min", "p50", "p90", "p95", "p99", "max", "iqr")
MEMORY_PHASES = ("start", "after_import", "after_load", "peak")

#: Every record has every one of these keys; a failed or skipped run has nulls where nothing
#: was measured. Nested objects keep their sub-keys (filled with nulls).
REQUIRED_KEYS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "run_id": None,
    "created": None,
    "case_key": None,
    "backend": None,
    "model": None,
    "batch_size": None,
    "threads": None,
    "variant": None,
    "protocol": None,
    "scenario": None,  # "single" (the engine's timed loop) or a LoadGen scenario (benchlib.scenarios)
    "precision": None,  # numeric precision: fp32, bf16, int8-dynamic, int8-static (benchlib.precision)
    "status": None,
    "error": None,
    "pid": None,
    "latency_ms": dict.fromkeys(LATENCY_KEYS),
    "latency_ci95_ms": {"p50": None, "p99": None},
    "cv": None,
    "noisy": None,
    "noisy_reasons": [],
    "n_calls": None,
    # how the timed loop stopped (the precision target of docs/measurement.md; not the numeric precision)
    "stopping": {"target_ci": None, "halfwidth": None, "met": None, "stop": None, "reason": None,
                  "calls": None, "seconds": None},
    "warmup": {"calls": None, "seconds": None, "stable": None},
    "fixed_s": {"process_start": None, "env": None, "import": None, "build": None, "first_call": None,
                "warmup": None, "after_loop": None},
    "timing_storage_mb": None,
    "loop_rss_growth_mb": None,
    "throughput_sps": None,
    "cpu_percent": None,
    "cpu_fraction_of_usable": None,
    "ctx_switches": {"voluntary": None, "involuntary": None},
    "noise": {"steal_s": None, "nr_throttled": None, "throttled_s": None, "swap_io_bytes": None},
    "per_core_percent": None,
    "rss_mb": dict.fromkeys(MEMORY_PHASES),
    "uss_mb": dict.fromkeys(MEMORY_PHASES),
    "ru_maxrss_mb": None,
    "rss_peak_mb": None,
    "uss_peak_mb": None,
    "framework_mb": None,
    "import_s": None,
    "load_s": None,
    "first_call_ms": None,
    "harness_overhead_us": None,
    "max_abs_err": None,
    "outputs_valid": None,  # true / false; null: not checked (failed, skipped) or no check could run (reference)
    # what the outputs were checked against (benchlib.models.reference_check.METHODS) and why not the first
    # choice; method null with a reason: no check could run, so the outputs are unverified (and not ranked)
    "reference": {"method": None, "reason": None},
    # reduced precision (benchlib.precision): how it was applied, calibration, what the CPU does for it,
    # and accuracy on the seeded evaluation set (null at fp32)
    "precision_path": None,
    "calibration": None,
    "precision_hardware": None,
    "accuracy": None,
    "framework_version": None,
    "thread_settings": None,
    "flops_per_sample": None,
    "gflops": None,
    "env": None,
    "env_key": None,
    "warnings": [],
    "samples_ms": None,
}


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _case_fields(case: Any) -> dict[str, Any]:
    """Identity fields of a :class:`~benchlib.engine.case.RunCase` (or a dict with the same keys), and
    ``case``: the rest of it (each field stored once)."""
    data = case.to_dict() if hasattr(case, "to_dict") else dict(case)
    fields = {key: data.get(key) for key in CASE_FIELDS}
    fields["precision"] = fields["precision"] or CASE_DEFAULTS["precision"]  # a case from before precisions
    fields["case_key"] = case.case_key if hasattr(case, "case_key") else data.get("case_key")
    fields["case"] = {key: value for key, value in data.items() if key not in fields}
    return fields


def _asked(record: dict[str, Any], data: dict[str, Any]) -> None:
    """Keep in ``record["case"]`` each case field the record's own key now says otherwise (the backend's
    resolved variant beside the one asked for), so the case stays whole and nothing is stored twice."""
    for key in CASE_FIELDS:
        if key in data and data[key] != record.get(key) and not (key == "precision" and data[key] is None):
            record["case"][key] = data[key]


def make_record(case: Any, status: str = "ok", error: str | None = None, **fields: Any) -> dict[str, Any]:
    """A record for ``case`` with every required key; ``fields`` fill or add keys.

    Nested objects given in ``fields`` are merged over the null template, so a partial
    ``rss_mb`` still has all four phases.
    """
    if status not in STATUSES:
        raise ValueError(f"status={status!r} is invalid; allowed: {', '.join(STATUSES)}")
    record: dict[str, Any] = {
        key: (dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value)
        for key, value in REQUIRED_KEYS.items()
    }
    record.update(run_id=uuid.uuid4().hex, created=_utc_now(), status=status, error=error)
    record.update(_case_fields(case))
    for key, value in fields.items():
        if isinstance(record.get(key), dict) and isinstance(value, dict) and key in REQUIRED_KEYS:
            record[key].update(value)
        else:
            record[key] = value
    if isinstance(record.get("case"), dict):
        _asked(record, case.to_dict() if hasattr(case, "to_dict") else dict(case))
    return record


def failed_record(case: Any, status: str, error: str, **fields: Any) -> dict[str, Any]:
    """A ``failed`` or ``skipped`` record carrying the reason in ``error`` and nulls elsewhere."""
    if status not in ("failed", "skipped"):
        raise ValueError(f"status={status!r} is invalid here; allowed: failed, skipped")
    return make_record(case, status=status, error=error, **fields)


def missing_keys(record: dict[str, Any]) -> list[str]:
    """Required keys absent from ``record`` (empty for a valid record)."""
    return [key for key in REQUIRED_KEYS if key not in record]


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` (any readable ``schema_version``) in the current shape; its version is kept.

    Version 1 article-protocol records lacked ``case_key``, ``model``, ``env`` and ``env_key`` and
    named the framework version ``version``: the missing keys become nulls (the machine they came
    from is unknown), ``version`` becomes ``framework_version``. Before version 3, ``case`` repeated the
    record's case fields: a repeat equal to the record's own key is dropped. Values already there are kept.
    """
    upgraded = dict(record)
    if isinstance(upgraded.get("precision"), dict):  # written before the rename: how the timed loop stopped
        upgraded["stopping"] = upgraded.pop("precision")
    if upgraded.get("precision") is None:  # every record before the precision dimension ran float32
        upgraded["precision"] = CASE_DEFAULTS["precision"]
    if upgraded.get("scenario") is None:  # every record before LoadGen's scenarios ran one call at a time
        upgraded["scenario"] = CASE_DEFAULTS["scenario"]
    if upgraded.get("protocol") == "article" and "version" in upgraded:
        upgraded.setdefault("framework_version", upgraded.pop("version"))
    if isinstance(upgraded.get("case"), dict):
        upgraded["case"] = {key: value for key, value in upgraded["case"].items()
                            if key not in (*CASE_FIELDS, "case_key") or value != upgraded.get(key)}
    for key, value in REQUIRED_KEYS.items():
        if key == "schema_version":
            continue
        if key not in upgraded or upgraded[key] is None:
            upgraded[key] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) \
                else value
        elif isinstance(value, dict) and isinstance(upgraded[key], dict):
            upgraded[key] = {**value, **upgraded[key]}
    return upgraded


# -- what a readable record may hold ---------------------------------------------------------------

#: Keys whose value is a text (or null) in every record.
TEXT_KEYS = ("backend", "model", "variant", "precision", "protocol", "case_key", "created", "run_id", "env_key")
#: Timing keys of ``latency_ms`` that must be above 0 (a spread may be exactly 0).
POSITIVE_LATENCIES = ("mean", "min", "p50", "p90", "p95", "p99", "max")
#: Measured quantities that are never negative.
NON_NEGATIVE_KEYS = ("throughput_sps", "cpu_percent", "rss_peak_mb", "uss_peak_mb", "max_abs_err", "cv",
                     "n_calls", "import_s", "load_s", "first_call_ms", "gflops")
#: Keys holding an object (or null), a list (or null) or a yes/no (or null).
OBJECT_KEYS = ("latency_ms", "latency_ci95_ms", "env", "rss_mb", "uss_mb", "ctx_switches", "reference")
LIST_KEYS = ("warnings", "samples_ms", "per_core_percent")
BOOL_KEYS = ("outputs_valid", "noisy")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)




def invalid_reason(record: dict[str, Any]) -> str | None:
    """Why ``record`` cannot be shown or ranked (wrong types, impossible values), or ``None``.

    Only keys present are checked, so records from older benchlib versions stay readable; a
    value that no measurement can produce (a latency of 0, below 0 or infinite, an unknown
    status, a batch size given as text) makes the whole record unusable.
    """
    status = record.get("status")
    if status not in STATUSES:
        return f"status={status!r} is unknown; allowed: {', '.join(STATUSES)}"
    for key in TEXT_KEYS:
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key}={record[key]!r} is not text; allowed: text or null"
    for key, low in (("batch_size", 1), ("threads", 0)):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            return f"{key}={value!r} is invalid; allowed: an integer from {low}, or null"
    for key in OBJECT_KEYS:
        if record.get(key) is not None and not isinstance(record[key], dict):
            return f"{key}={record[key]!r} is not an object; allowed: an object or null"
    for key in LIST_KEYS:
        if record.get(key) is not None and not isinstance(record[key], list):
            return f"{key}={record[key]!r} is not a list; allowed: a list or null"
    for key in BOOL_KEYS:
        if record.get(key) is not None and not isinstance(record[key], bool):
            return f"{key}={record[key]!r} is not true or false; allowed: true, false or null"
    for name, value in (record.get("latency_ms") or {}).items():
        if value is None:
            continue
        positive = name in POSITIVE_LATENCIES
        if not _number(value) or not math.isfinite(value) or value < 0 or (positive and value == 0):
            low = "above 0" if positive else "from 0"
            return f"latency_ms.{name}={value!r} is impossible; allowed: a finite number of milliseconds {low}"
    for key in NON_NEGATIVE_KEYS:
        value = record.get(key)
        if value is not None and (not _number(value) or not math.isfinite(value) or value < 0):
            return f"{key}={value!r} is impossible; allowed: a finite number from 0, or null"
    return None
