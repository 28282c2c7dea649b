"""The frozen description of one run: what to measure, not how it turned out."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from benchlib.backends.registry import BACKEND_NAMES
from benchlib.models.zoo import MODELS

#: Upper bounds that catch typos (batch 10**9) before a run starts.
MAX_BATCH_SIZE = 1_000_000
MAX_THREADS = 1024
MAX_SECONDS = 24 * 3600.0
MAX_CALLS = 10_000_000
#: How a case is run: "single" is the engine's timed loop (one call at a time, each waiting for the
#: last); the others are MLPerf LoadGen's scenarios, run by benchlib.scenarios (docs/scenarios.md).
SCENARIOS = ("single", "SingleStream", "MultiStream", "Offline", "Server")


def check_positive_int(name: str, value: object, maximum: int) -> int:
    """Return ``value`` if it is an int in [1, maximum], else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer from 1 to {maximum}")
    return value


def check_positive_float(name: str, value: object, maximum: float, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number in (0, maximum] ([0, …] with allow_zero)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    low_ok = ok and (value >= 0 if allow_zero else value > 0)
    if not (low_ok and value <= maximum):
        low = "0" if allow_zero else "more than 0"
        raise ValueError(f"{name}={value!r} is invalid; allowed: a number of seconds from {low} to {maximum:g}")
    return float(value)


#: Fields added later → the value that means what records without them measured.
_LATER_FIELDS: dict[str, object] = {"target_ci": 0.0, "max_time_s": None, "warmup_max_s": 0.0,
                                   "scenario": "single", "precision": "fp32"}


@dataclass(frozen=True)
class RunCase:
    """One (backend, model, batch size, threads, variant) case and how long to measure it."""

    backend: str
    model: str = "fnn"
    batch_size: int = 1
    threads: int | None = None  # None: the framework's default
    variant: str | None = None  # None: the backend's default variant
    min_time_s: float = 1.0  # timed loop lasts at least this long ...
    min_calls: int = 50  # ... and at least this many calls
    warmup_time_s: float = 0.2
    warmup_calls: int = 10
    timeout_s: float = 600.0
    seed: int = 0  # seed of the input batch
    protocol: str = "engine"
    extra: tuple[tuple[str, object], ...] = field(default=())  # protocol-specific settings
    scenario: str = "single"  # one of SCENARIOS; a LoadGen scenario's settings are in ``extra``
    #: precision target: after the minimums, measure until the 95% interval of the median is within
    #: this fraction of it (0.01 = ±1%); 0 measures for the fixed minimums only (docs/measurement.md)
    target_ci: float = 0.0
    #: with a target, give up after this long (None: 3 s, or min_time_s when longer)
    max_time_s: float | None = None
    #: > 0: warm-up continues past its minimums until the per-call time settles, for at most this long;
    #: 0: fixed warm-up (the minimums only)
    warmup_max_s: float = 0.0
    #: numeric precision: one of benchlib.precision.PRECISIONS (fp32, bf16, int8-dynamic, int8-static);
    #: a backend without it records the case as skipped (docs/precision.md)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        # Types first: a list where a name belongs would otherwise fail later with an unrelated error.
        for name, allowed in (("backend", "a backend name"), ("model", "a model name"), ("protocol", "a name"),
                              ("scenario", "a scenario name"), ("precision", "a precision name")):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"{name}={value!r} ({type(value).__name__}) is invalid; allowed: {allowed} (text)")
        if self.variant is not None and not isinstance(self.variant, str):
            raise ValueError(f"variant={self.variant!r} ({type(self.variant).__name__}) is invalid; allowed: None "
                             "or a variant name (text)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed={self.seed!r} ({type(self.seed).__name__}) is invalid; allowed: an integer")
        if not isinstance(self.extra, tuple) or not all(
                isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in self.extra):
            raise ValueError(f"extra={self.extra!r:.80} is invalid; allowed: a tuple of (name, value) pairs, "
                             "e.g. tuple(sorted(settings.items()))")
        if self.backend not in BACKEND_NAMES:
            raise ValueError(f"backend={self.backend!r} is unknown; allowed: {', '.join(BACKEND_NAMES)}")
        if self.model not in MODELS:
            from benchlib.models.user import check_model_name

            check_model_name(self.model)  # an .onnx path is accepted here; the worker checks the file
        check_positive_int("batch_size", self.batch_size, MAX_BATCH_SIZE)
        if self.threads is not None:
            check_positive_int("threads", self.threads, MAX_THREADS)
        check_positive_float("min_time_s", self.min_time_s, MAX_SECONDS, allow_zero=True)
        check_positive_int("min_calls", self.min_calls, MAX_CALLS)
        check_positive_float("warmup_time_s", self.warmup_time_s, MAX_SECONDS, allow_zero=True)
        calls = self.warmup_calls
        if isinstance(calls, bool) or not isinstance(calls, int) or not 0 <= calls <= MAX_CALLS:
            raise ValueError(f"warmup_calls={calls!r} is invalid; allowed: an integer from 0 to {MAX_CALLS}")
        check_positive_float("timeout_s", self.timeout_s, MAX_SECONDS)
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario={self.scenario!r} is unknown; allowed: {', '.join(SCENARIOS)}")
        from benchlib.engine.timing import check_target_ci

        check_target_ci(self.target_ci)
        if self.max_time_s is not None:
            check_positive_float("max_time_s", self.max_time_s, MAX_SECONDS)
            if self.max_time_s < self.min_time_s:
                raise ValueError(f"max_time_s={self.max_time_s!r} is invalid; allowed: at least min_time_s "
                                 f"({self.min_time_s:g}) or None (the default cap)")
        check_positive_float("warmup_max_s", self.warmup_max_s, MAX_SECONDS, allow_zero=True)
        from benchlib.precision import check_precision

        check_precision(self.precision)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunCase:
        data = dict(data)
        data["extra"] = tuple(sorted(dict(data.get("extra") or {}).items()))
        return cls(**data)

    @property
    def case_key(self) -> str:
        """Stable hash of what is measured (not of how long): used to resume sweeps."""
        # Settings added after the first records exist leave the key unchanged at their old meaning,
        # so results measured before them still resume.
        what = {k: v for k, v in self.to_dict().items()
                if k not in ("timeout_s",) and not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def label(self) -> str:
        variant = f"/{self.variant}" if self.variant else ""
        threads = f" t={self.threads}" if self.threads else ""
        scenario = f" {self.scenario}" if self.scenario != "single" else ""
        precision = f" {self.precision}" if self.precision != "fp32" else ""
        return f"{self.backend}{variant} b={self.batch_size}{threads}{scenario}{precision}"
