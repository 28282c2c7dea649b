"""Deployment scenarios with MLPerf LoadGen: latency under load, and the most queries per second within a bound.

A scenario case is a :class:`~benchlib.engine.case.RunCase` whose ``scenario`` is SingleStream,
MultiStream, Offline or Server. The one launcher runs it in its own process through the one worker
(:mod:`benchlib.engine.worker`), where the backend becomes LoadGen's system under test (served
concurrently the framework's own way, :mod:`benchlib.scenarios.strategies`) and the model's inputs
its query sample library (:mod:`benchlib.scenarios.loadgen_harness`, :mod:`benchlib.scenarios.samples`).
This package holds the harness, the executors, the serving strategies and the settings; cases are
built by :mod:`benchlib.studies.scenarios`, shown by :mod:`benchlib.report.scenarios`; see
docs/scenarios.md.
"""
