"""The precision options on the command line: help renders, values reach the cases, refusals name the option."""

from __future__ import annotations

import argparse

import pytest

from benchlib.cli import main


def _run_args(argv: list[str]) -> argparse.Namespace:
    from benchlib.cli.run import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["run", *argv])


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_help_shows_the_precision_options(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--target-ci F" in text and "--max-time-s S" in text and "±1%" in text


def test_target_and_caps_reach_every_case() -> None:
    from benchlib.cli.run import build_cases

    cases = build_cases(_run_args(["--target-ci", "0.02", "--max-time-s", "4", "--warmup-max-s", "0.5"]), ["numpy"])
    assert {(c.target_ci, c.max_time_s, c.warmup_max_s) for c in cases} == {(0.02, 4.0, 0.5)}
    fixed = build_cases(_run_args(["--target-ci", "0"]), ["numpy"])
    assert {c.target_ci for c in fixed} == {0.0}
    assert build_cases(_run_args(["--min-time-s", "2", "--max-time-s", "1"]), ["numpy"]).startswith("--max-time-s=1")


@pytest.mark.parametrize("argv", [["--target-ci", "1"], ["--target-ci", "-0.1"], ["--target-ci", "x"],
                                  ["--max-time-s", "0"]])
def test_bad_precision_values_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", *argv])
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_sweep_config_carries_the_target() -> None:
    from benchlib.defaults import QUICK_MAX_TIME_S
    from benchlib.studies.sweep import build_cases, sweep_config

    config = sweep_config(backends=["numpy"], batch_sizes=[1], threads=[1], quick=True)
    assert config.target_ci == 0.01 and config.max_time_s == QUICK_MAX_TIME_S
    assert {c.target_ci for c in build_cases(config)} == {0.01}
    fixed = sweep_config(backends=["numpy"], batch_sizes=[1], threads=[1], target_ci=0.0)
    assert {(c.target_ci, c.max_time_s) for c in build_cases(fixed)} == {(0.0, None)}
    with pytest.raises(ValueError, match="max_time_s=0.1 is invalid"):
        sweep_config(backends=["numpy"], min_time_s=0.5, max_time_s=0.1)
