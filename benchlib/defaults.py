"""Every default that benchlib's command line, notebooks and suite share, stated once.

The engine's case and timed loop, the interleaved rounds, the sweep, the LoadGen scenarios, the CLI's
options, the notebooks' ``parameters`` cells and ``make reproduce`` (:data:`benchlib.notebook.suite.FULL`)
all read these values, so that a notebook run in JupyterLab measures as ``make reproduce`` and as the
command line do. The notebooks' parameters cells must stay literals (papermill replaces them), so they
state the same numbers; ``tests/test_defaults.py`` holds them, and the suite's full run, to this module.

This module imports nothing: every layer may read it. Evidence for the values: docs/measurement.md.
"""

from __future__ import annotations

# -- the timed loop (benchlib.engine.timing) -----------------------------------------------------------------

#: The timed loop lasts at least this long (seconds) ...
MIN_TIME_S = 0.25
#: ... and makes at least this many calls. With a precision target, 0.25 s met ±1% as often as 1 s did,
#: at a quarter of the cost (docs/measurement.md, "Defaults of the precision mode, and the evidence for them").
MIN_CALLS = 50
#: Precision target: after the minimums, measure until the 95% interval of the median is within this
#: fraction of it (0.01 = ±1%); 0 measures for the minimums only (fixed time).
TARGET_CI = 0.01
#: With a target, a case gives up after this long (seconds; or ``MIN_TIME_S`` when that is longer) and
#: records that the target was not met.
MAX_TIME_S = 3.0
#: A case's process is killed after this long (seconds) and the case recorded as failed.
TIMEOUT_S = 600.0

# -- warm-up --------------------------------------------------------------------------------------------------

#: Warm-up lasts at least this long (seconds) and this many calls ...
WARMUP_TIME_S = 0.05
WARMUP_CALLS = 10
#: ... then goes on until the per-call time settles, for at most this long (seconds; 0: the minimums only).
WARMUP_MAX_S = 1.0

# -- interleaved rounds (benchlib.engine.rounds.RoundSettings) --------------------------------------------------

#: Each round runs one timed block of this long (seconds) per case.
ROUND_BLOCK_S = 0.1
#: The rounds stop after at least MIN_ROUNDS when every case's interval is within ROUND_TARGET_CI of its
#: median, else at MAX_ROUNDS or after ROUND_MAX_TIME_S seconds of rounds in the whole run (shared among the
#: groups of cases by their size; each group still runs MIN_ROUNDS).
MIN_ROUNDS = 8
MAX_ROUNDS = 30
ROUND_MAX_TIME_S = 20.0
ROUND_TARGET_CI = 0.02
#: Independent processes per case, whose blocks alternate.
ROUND_PROCESSES = 2
#: At most this many processes alive at once, and at most this share of the memory available at the start.
ROUND_MAX_ALIVE = 24
ROUND_MEMORY_FRACTION = 0.5

# -- fixed-time protocols: the article's corrected runs and the ablation --------------------------------------

#: The article's corrected runs and the ablation's engine steps measure for a fixed time, with no
#: precision target to extend a short loop, so they measure longer than MIN_TIME_S.
FIXED_MIN_TIME_S = 1.0
#: Calls per framework in the article's own loop (the article's 1000).
ARTICLE_NUM_RUNS = 1000
#: Calls per framework and step of the ablation.
ABLATION_NUM_RUNS = 100

# -- LoadGen scenarios -------------------------------------------------------------------------------------------

#: Each LoadGen run lasts at least this long (seconds; LoadGen's official minimum is 600). At the fnn
#: Server rates a scenarios run finds (thousands of queries/s) a 1 s run holds thousands of queries, far
#: above LoadGen's early-stopping minimum; each record keeps LoadGen's own estimate of the percentile it
#: can vouch for, so a run too short for its percentile says so.
MIN_DURATION_S = 1.0

# -- --quick (sweep, fleet and scenarios commands and notebooks) ----------------------------------------------------

#: A quick sweep's timed loop and its cap with a target (seconds).
QUICK_MIN_TIME_S = 0.1
QUICK_MAX_TIME_S = 0.5
#: A quick scenario sweep's LoadGen runs (seconds).
QUICK_MIN_DURATION_S = 0.5
