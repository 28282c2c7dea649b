"""The frozen description of one run: what to measure, not how it turned out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from benchlib import defaults
from benchlib.engine.params import (
    MAX_CALLS,
    MAX_SECONDS,
    check_backend,
    check_batch_size,
    check_model,
    check_positive_float,
    check_positive_int,
    check_precision,
    check_scenario,
    check_threads,
)

#: Fields added after the first records existed: at their default they leave a case's key as it was.
_LATER_FIELDS = ("target_ci", "max_time_s", "warmup_max_s", "scenario", "precision")


@dataclass(frozen=True)
class RunCase:
    """One (backend, model, batch size, threads, variant) case and how long to measure it."""

    backend: str
    model: str = "fnn"
    batch_size: int = 1
    threads: int | None = None  # None: the framework's default
    variant: str | None = None  # None: the backend's default variant
    min_time_s: float = defaults.MIN_TIME_S  # timed loop lasts at least this long ...
    min_calls: int = defaults.MIN_CALLS  # ... and at least this many calls
    warmup_time_s: float = defaults.WARMUP_TIME_S
    warmup_calls: int = defaults.WARMUP_CALLS
    timeout_s: float = defaults.TIMEOUT_S
    seed: int = 0  # seed of the input batch
    protocol: str = "engine"
    extra: tuple[tuple[str, object], ...] = field(default=())  # protocol-specific settings
    scenario: str = "single"  # one of SCENARIOS; a LoadGen scenario's settings are in ``extra``
    #: precision target: after the minimums, measure until the 95% interval of the median is within
    #: this fraction of it (0.01 = ±1%); 0 measures for the fixed minimums only (docs/measurement.md).
    #: This and the next two fields default to what a case meant before they existed (fixed time), so
    #: that the keys of older records stay as they were; the CLI and the notebooks ask for
    #: benchlib.defaults.TARGET_CI and WARMUP_MAX_S.
    target_ci: float = 0.0
    #: with a target, give up after this long (None: benchlib.defaults.MAX_TIME_S, or min_time_s when longer)
    max_time_s: float | None = None
    #: > 0: warm-up continues past its minimums until the per-call time settles, for at most this long;
    #: 0: fixed warm-up (the minimums only)
    warmup_max_s: float = 0.0
    #: numeric precision: one of benchlib.precision.PRECISIONS (fp32, bf16, int8-dynamic, int8-static);
    #: a backend without it records the case as skipped (docs/precision.md)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        """Check every field of a case made by hand, each by its one check (:mod:`benchlib.engine.params`).

        The case grid and a case's child process make cases from values already checked
        (:meth:`checked`), which skips this.
        """
        # what the checks normalise (a thread setting's count, a scenario's spelling) is what the case holds
        object.__setattr__(self, "threads", check_threads(self.threads))
        object.__setattr__(self, "scenario", check_scenario(self.scenario))
        check_backend(self.backend)
        check_model(self.model)  # an .onnx path is accepted here; the case grid reads the file
        check_batch_size(self.batch_size)
        check_precision(self.precision)
        if self.variant is not None and not isinstance(self.variant, str):
            raise ValueError(f"variant={self.variant!r} ({type(self.variant).__name__}) is invalid; allowed: None "
                             "or a variant name (text)")
        check_settings(**{f.name: getattr(self, f.name) for f in fields(self) if f.name in SETTINGS})

    @classmethod
    def checked(cls, **values: Any) -> RunCase:
        """A case from values already checked where they entered (the case grid's, a parent's case in its
        child process): nothing is checked again. Fields not given take their defaults."""
        case = object.__new__(cls)
        for item in fields(cls):
            if item.name in values:
                value = values.pop(item.name)
            else:
                value = item.default if item.default is not MISSING else item.default_factory()  # type: ignore[misc]
            object.__setattr__(case, item.name, value)
        if values:
            raise TypeError(f"RunCase.checked() got unknown field(s) {', '.join(sorted(values))}; allowed: "
                            f"{', '.join(f.name for f in fields(cls))}")
        return case

    def to_dict(self) -> dict:
        data = asdict(self)
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict, checked: bool = False) -> RunCase:
        """The case :meth:`to_dict` described; ``checked``: made from a case that was checked already (a
        child process's, a fleet host's), so nothing is checked again."""
        data = dict(data)
        data["extra"] = tuple(sorted(dict(data.get("extra") or {}).items()))
        return cls.checked(**data) if checked else cls(**data)

    @property
    def case_key(self) -> str:
        """Stable hash of what is measured (not of how long): used to resume sweeps."""
        # Settings added after the first records exist leave the key unchanged at their old meaning,
        # so results measured before them still resume.
        later = {f.name: f.default for f in fields(self) if f.name in _LATER_FIELDS}
        what = {k: v for k, v in self.to_dict().items()
                if k not in ("timeout_s",) and not (k in later and v == later[k])}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def label(self) -> str:
        variant = f"/{self.variant}" if self.variant else ""
        threads = f" t={self.threads}" if self.threads else ""
        scenario = f" {self.scenario}" if self.scenario != "single" else ""
        precision = f" {self.precision}" if self.precision != "fp32" else ""
        return f"{self.backend}{variant} b={self.batch_size}{threads}{scenario}{precision}"


#: The fields of a case that say how long and how it is measured (checked by :func:`check_settings`).
SETTINGS = ("min_time_s", "min_calls", "warmup_time_s", "warmup_calls", "timeout_s", "seed", "protocol", "extra",
            "target_ci", "max_time_s", "warmup_max_s")


def check_settings(**settings: Any) -> dict[str, Any]:
    """Check the measuring settings of a case (any of :data:`SETTINGS`), each naming itself; returns them.

    The case grid checks its settings once for all its cases; a case made by hand checks its own.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown case setting(s) {', '.join(unknown)}; allowed: {', '.join(SETTINGS)} and the "
                        "case's dimensions")
    values = {f.name: f.default for f in fields(RunCase) if f.name in SETTINGS and f.default is not MISSING}
    values.update(settings)
    seed, extra = values["seed"], values["extra"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} ({type(seed).__name__}) is invalid; allowed: an integer")
    if not isinstance(extra, tuple) or not all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in extra):
        raise ValueError(f"extra={extra!r:.80} is invalid; allowed: a tuple of (name, value) pairs, "
                         "e.g. tuple(sorted(settings.items()))")
    if not isinstance(values["protocol"], str):
        raise ValueError(f"protocol={values['protocol']!r} ({type(values['protocol']).__name__}) is invalid; "
                         "allowed: a name (text)")
    check_positive_float("min_time_s", values["min_time_s"], MAX_SECONDS, allow_zero=True)
    check_positive_int("min_calls", values["min_calls"], MAX_CALLS)
    check_positive_float("warmup_time_s", values["warmup_time_s"], MAX_SECONDS, allow_zero=True)
    calls = values["warmup_calls"]
    if isinstance(calls, bool) or not isinstance(calls, int) or not 0 <= calls <= MAX_CALLS:
        raise ValueError(f"warmup_calls={calls!r} is invalid; allowed: an integer from 0 to {MAX_CALLS}")
    check_positive_float("timeout_s", values["timeout_s"], MAX_SECONDS)
    from benchlib.engine.timing import check_target_ci

    check_target_ci(values["target_ci"])
    cap = values["max_time_s"]
    if cap is not None:
        check_positive_float("max_time_s", cap, MAX_SECONDS)
        if cap < values["min_time_s"]:
            raise ValueError(f"max_time_s={cap!r} is invalid; allowed: at least min_time_s "
                             f"({values['min_time_s']:g}) or None (the default cap)")
    check_positive_float("warmup_max_s", values["warmup_max_s"], MAX_SECONDS, allow_zero=True)
    return settings
