"""What one scenario run is asked to do, checked before anything runs.

A scenario case is a :class:`~benchlib.engine.case.RunCase` whose ``scenario`` is one of LoadGen's
four; its scenario settings travel in the case's ``extra`` (so they are part of the case key) and are
read back here as a :class:`ScenarioSettings`. Every refusal names the parameter, the value given and
what is allowed (the CLI turns it into exit status 2).

Durations are short on purpose: LoadGen's official minimum is 600 s per run, far beyond a 2-core
suite, so no record here is an MLPerf-valid submission (each says so in ``mlperf_note``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from benchlib import defaults

#: LoadGen's scenarios, in the order the notebook and tables show them.
LOADGEN_SCENARIOS: tuple[str, ...] = ("SingleStream", "MultiStream", "Offline", "Server")

#: p99 latency bound of the Server scenario per model (ms); a model not listed gets LoadGen's own
#: default. 10 ms for ``fnn``: about 100x its single-sample latency, a typical budget for a small
#: classifier behind a web request; ``resnet8`` and ``lstm_spam``: about 10x their single-sample
#: latency on 2 cores (3-5 ms); ``bert_tiny``: MLPerf's BERT Server bound (130 ms), about 10x its
#: single-sample latency on 2 cores.
DEFAULT_LATENCY_BOUND_MS: dict[str, float] = {"fnn": 10.0, "resnet8": 30.0, "lstm_spam": 30.0, "bert_tiny": 130.0}
#: LoadGen's default ``server_target_latency_ns`` (100 ms), for models without their own bound.
LOADGEN_DEFAULT_LATENCY_BOUND_MS = 100.0

#: The fewest queries with which LoadGen's early-stopping estimate can succeed when no query is late
#: (measured with LoadGen 6.0: 662 for a 99th percentile, 64 for a 90th, 459 for Server's p99), with
#: room in Server for a few queries over the bound. Offline: the least samples in its one query.
DEFAULT_MIN_QUERIES: dict[str, int] = {"SingleStream": 662, "MultiStream": 662, "Offline": 1024, "Server": 1024}
#: Samples per MultiStream query (MLPerf's value).
DEFAULT_SAMPLES_PER_QUERY = 8
#: Most samples one inference call takes: SingleStream and Server queries hold one sample (Server
#: batches queued samples up to this many when the SUT falls behind); Offline and MultiStream queries
#: are cut into calls of at most this many samples.
DEFAULT_BATCH: dict[str, int] = {"SingleStream": 1, "MultiStream": 8, "Offline": 64, "Server": 8}

#: How long each LoadGen run lasts is benchlib.defaults.MIN_DURATION_S (quick: QUICK_MIN_DURATION_S).
#: Most LoadGen runs of a Server search, quick and full.
QUICK_MAX_TRIES = 6
FULL_MAX_TRIES = 9

#: Upper bounds that catch typos (a 10**9 ms bound) before a run starts.
MAX_DURATION_S = 3600.0
MAX_LATENCY_BOUND_MS = 60_000.0
MAX_TARGET_QPS = 10_000_000.0
MAX_QUERIES = 10_000_000
MAX_SAMPLES_PER_QUERY = 4096
MAX_STREAMS = 256
MAX_TRIES = 30
MAX_SAMPLE_COUNT = 100_000

#: Why these numbers are not MLPerf results (kept in every record).
MLPERF_NOTE = ("Not an MLPerf-valid submission: runs last {duration:g} s (LoadGen's official minimum is "
               "600 s) with {queries} queries at least; LoadGen's own VALID/INVALID verdict and early-stopping "
               "estimate are kept in the loadgen fields.")


def _bad(name: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is invalid; allowed: {allowed}")


def check_number(name: str, value: object, maximum: float, unit: str) -> float:
    """``value`` as a float if it is a finite number in (0, maximum], else ``ValueError`` naming ``name``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value <= maximum:  # type: ignore[operator]
        raise _bad(name, value, f"a number of {unit} above 0 and at most {maximum:g}")
    return float(value)  # type: ignore[arg-type]


def check_count(name: str, value: object, maximum: int) -> int:
    """``value`` if it is an integer in [1, maximum], else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise _bad(name, value, f"an integer from 1 to {maximum}")
    return value


def default_latency_bound_ms(model: str) -> float:
    """The Server p99 bound of ``model`` when none is given (ms)."""
    return DEFAULT_LATENCY_BOUND_MS.get(model, LOADGEN_DEFAULT_LATENCY_BOUND_MS)


@dataclass(frozen=True)
class ScenarioSettings:
    """The settings of one LoadGen run (or one Server search), validated on construction."""

    scenario: str
    min_duration_s: float = defaults.QUICK_MIN_DURATION_S
    min_queries: int | None = None  # None: DEFAULT_MIN_QUERIES of the scenario
    latency_bound_ms: float = 10.0  # Server: the p99 bound the search must meet
    target_qps: float | None = None  # Server: one fixed rate instead of the search
    samples_per_query: int = DEFAULT_SAMPLES_PER_QUERY  # MultiStream
    streams: int | None = None  # concurrent streams / requests / sessions; None: the framework's choice
    max_tries: int = QUICK_MAX_TRIES  # Server search: most LoadGen runs
    sample_count: int | None = None  # samples in the query sample library; None: sized to the input

    def __post_init__(self) -> None:
        if self.scenario not in LOADGEN_SCENARIOS:
            raise ValueError(f"scenario={self.scenario!r} is unknown; allowed: {', '.join(LOADGEN_SCENARIOS)}")
        check_number("min_duration_s", self.min_duration_s, MAX_DURATION_S, "seconds")
        if self.min_queries is not None:
            check_count("min_queries", self.min_queries, MAX_QUERIES)
        check_number("latency_bound_ms", self.latency_bound_ms, MAX_LATENCY_BOUND_MS, "milliseconds")
        if self.target_qps is not None:
            check_number("target_qps", self.target_qps, MAX_TARGET_QPS, "queries per second")
        check_count("samples_per_query", self.samples_per_query, MAX_SAMPLES_PER_QUERY)
        if self.streams is not None:
            check_count("streams", self.streams, MAX_STREAMS)
        check_count("max_tries", self.max_tries, MAX_TRIES)
        if self.sample_count is not None:
            check_count("sample_count", self.sample_count, MAX_SAMPLE_COUNT)

    @property
    def queries(self) -> int:
        """The least queries (Offline: samples) LoadGen runs."""
        return self.min_queries if self.min_queries is not None else DEFAULT_MIN_QUERIES[self.scenario]

    def to_extra(self) -> dict[str, Any]:
        """The settings as a case's ``extra`` (the scenario itself is a field of the case)."""
        data = asdict(self)
        data.pop("scenario")
        return data

    @classmethod
    def from_case(cls, case: Any) -> ScenarioSettings:
        """The settings a scenario case carries (unknown ``extra`` keys, such as test faults, ignored)."""
        extra = dict(case.extra)
        known = {k: extra[k] for k in cls.__dataclass_fields__ if k in extra and k != "scenario"}
        return cls(scenario=case.scenario, **known)

    def mlperf_note(self) -> str:
        return MLPERF_NOTE.format(duration=self.min_duration_s, queries=self.queries)
