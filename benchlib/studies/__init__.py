"""What a user runs: verify, sweep, scenarios, the fleet, compare, the article protocol and the ablation.

Each study turns a plan into cases, runs them through the engine, and returns records; tables and
figures are drawn by :mod:`benchlib.report` from those records.
"""
