"""What one run of the article protocol produced, and its results-store records.

Records go through :func:`benchlib.results.schema.make_record`, like every engine record, so they
carry every required key: ``case_key`` (a hash of the framework and the protocol settings),
``model`` (:data:`~benchlib.studies.article.settings.ARTICLE_MODEL`), and the environment
fingerprint ``env`` / ``env_key`` of the machine that measured them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from benchlib.studies.article.settings import ARTICLE_MODEL, ArticleProtocol


def protocol_case_key(identity: Mapping[str, Any]) -> str:
    """Stable hash of what a protocol record measured (its identity and settings), like ``RunCase.case_key``."""
    what = {key: value for key, value in identity.items() if key != "case_key"}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def article_case(framework: str, protocol: ArticleProtocol) -> dict[str, Any]:
    """The identity of one framework's article-protocol measurement, with its ``case_key``.

    The settings are part of it: the same framework under another ``num_runs``, another set of
    frameworks sharing its process or another flaw flipped is another case.
    """
    identity: dict[str, Any] = {"backend": framework, "model": ARTICLE_MODEL, "batch_size": protocol.batch_size,
                                "threads": None, "variant": "article", "protocol": "article",
                                "settings": protocol.to_dict()}
    identity["case_key"] = protocol_case_key(identity)
    return identity


@dataclass
class FrameworkResult:
    """What the article's loop measured for one framework, plus facts to explain it."""

    framework: str  # benchlib backend name
    display: str  # the article's name for it
    status: str = "ok"  # "ok" | "failed" | "skipped"
    error: str | None = None
    pid: int | None = None
    num_runs: int = 0
    batch_size: int = 0
    calls_per_run: int = 1
    latency_ms: float | None = None  # the article's figure: loop time / num_runs
    cpu_percent: float | None = None  # mean of psutil readings (percent of one core)
    memory_mb: float | None = None  # mean RSS of the whole process, MB
    wall_s: float | None = None  # the whole timed loop
    setup_s: float | None = None  # import + model build of this framework
    cpu_readings: int = 0
    cpu_zero_fraction: float | None = None  # readings that were exactly 0.0
    cpu_max_percent: float | None = None
    cpu_first_reading: float | None = None  # psutil's first reading on a new Process is 0.0
    rss_min_mb: float | None = None
    rss_max_mb: float | None = None
    rss_before_mb: float | None = None  # process RSS just before this framework's loop
    version: str | None = None
    output_sample: list[float] | None = None  # first rows of the output, for cross-checks
    notes: list[str] = field(default_factory=list)

    @property
    def per_call_us(self) -> float | None:
        """Latency of one framework call: per-run latency divided by calls per run, in µs."""
        if self.latency_ms is None:
            return None
        return self.latency_ms * 1000.0 / self.calls_per_run

    def to_record(self, run: ArticleRun | None = None, *, env: dict[str, Any] | None = None,
                  **fields: Any) -> dict[str, Any]:
        """A results-store record (:func:`~benchlib.results.schema.make_record`): every required key.

        ``env`` is the environment fingerprint (collected here when not given); ``fields`` add or
        override keys (a shared ``run_id`` and ``created`` for a whole run).
        """
        from benchlib.results.schema import make_record
        from benchlib.system.env import collect_env, fingerprint_key

        env = collect_env() if env is None else env
        if run is not None:
            protocol = run.protocol
        else:  # a lone result: the protocol's defaults where the result has no figure of its own
            own = {"num_runs": self.num_runs, "batch_size": self.batch_size}
            protocol = ArticleProtocol(frameworks=(self.framework,), **{k: v for k, v in own.items() if v})
        data = asdict(self)
        # the identity (backend, batch size) comes from the protocol, through make_record
        for key in ("framework", "status", "error", "latency_ms", "version", "batch_size"):
            data.pop(key)
        # the environment's warnings (a busy machine, a CPU quota) as on every engine record
        data.update(latency_ms={"mean": self.latency_ms}, per_call_us=self.per_call_us,
                    framework_version=self.version, env=env, env_key=fingerprint_key(env),
                    warnings=list(env.get("warnings") or []))
        if run is not None:
            data["article_run"] = {k: v for k, v in run.to_dict().items() if k != "results"}
        data.update(fields)
        return make_record(article_case(self.framework, protocol), status=self.status, error=self.error, **data)


def _clock_ticks() -> int:
    """Kernel clock ticks per second: the resolution of a process's CPU time on Linux."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100


@dataclass
class ArticleRun:
    """The outcome of one run of the protocol: per-framework results and process-wide facts."""

    protocol: ArticleProtocol
    results: list[FrameworkResult]
    pid: int
    rss_baseline_mb: float  # before any framework import
    rss_after_imports_mb: float | None = None
    rss_after_models_mb: float | None = None
    wall_s: float = 0.0
    onnx_path: str | None = None
    clock_ticks_per_s: int = field(default_factory=lambda: _clock_ticks())
    logical_cpus: int = field(default_factory=lambda: psutil.cpu_count() or 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly run: the protocol's settings, every result and the process-wide facts."""
        data = asdict(self)
        data["protocol"] = self.protocol.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArticleRun:
        """The run :meth:`to_dict` described (how a child process hands its run back)."""
        results = [FrameworkResult(**r) for r in data["results"]]
        fields = {k: v for k, v in data.items() if k not in ("protocol", "results")}
        return cls(protocol=ArticleProtocol.from_dict(data["protocol"]), results=results, **fields)

    def records(self, env: dict[str, Any] | None = None, **fields: Any) -> list[dict[str, Any]]:
        """One results-store record per framework, all with one environment fingerprint.

        ``env`` defaults to this machine's, collected once for the whole run; ``fields`` (e.g. a
        shared ``run_id`` and ``created``) are set on every record.
        """
        if env is None:
            from benchlib.system.env import collect_env

            env = collect_env()
        return [r.to_record(self, env=env, **fields) for r in self.results]

    def by_framework(self) -> dict[str, FrameworkResult]:
        """The results keyed by backend name."""
        return {r.framework: r for r in self.results}
