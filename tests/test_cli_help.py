"""Every command's ``--help`` renders: argparse formats help strings with ``%``, so a literal one crashes it."""

from __future__ import annotations

import pytest

from benchlib.cli import COMMANDS, build_parser, main


def test_top_level_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--help", "-h"):
        with pytest.raises(SystemExit) as exit_info:
            main([flag])
        assert exit_info.value.code == 0
        assert "compare" in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_help_exits_0(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"benchlib {command}" in out
    assert "%%" not in out  # descriptions are printed as written; only help strings are %-formatted


def test_every_help_string_formats() -> None:
    """Format each action's help as argparse would, so a stray ``%`` fails here and names the option."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices)  # noqa: SLF001 (argparse has no public walk)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:  # noqa: SLF001
            if action.help:
                formatter = sub._get_formatter()  # noqa: SLF001
                formatter._expand_help(action)  # noqa: SLF001
        assert sub.format_help(), name


# -- one vocabulary: the same option means the same thing in every command ----------------------------------

#: The commands that measure: each has --out (a folder), --no-progress, and --threads taking several values.
MEASURING = ("run", "sweep", "fleet", "scenarios", "article", "ablation")
#: The commands that measure independent cases, each resuming from its --out folder's records unless --fresh.
RESUMING = ("run", "sweep", "fleet", "scenarios")


def _options(command: str) -> dict[str, object]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices)  # noqa: SLF001 (argparse has no public walk)
    sub = subparsers.choices[command]
    return {option: action for action in sub._actions for option in action.option_strings}  # noqa: SLF001


@pytest.mark.parametrize("command", MEASURING)
def test_a_measuring_command_writes_into_an_out_folder_and_can_be_quiet(command: str) -> None:
    options = _options(command)
    out = options["--out"]
    assert out.metavar == "DIR" and out.help.startswith("output folder"), (command, out.help)
    assert "--no-progress" in options


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_resumes_the_same_way(command: str) -> None:
    options = _options(command)
    assert "--resume" not in options  # resuming is the default; --fresh is the one way out
    assert ("--fresh" in options) == (command in RESUMING), command


@pytest.mark.parametrize("command", COMMANDS)
def test_seconds_are_spelled_with_a_unit_suffix_and_threads_take_several_values(command: str) -> None:
    options = _options(command)
    for option, action in options.items():
        if action.metavar == "S" or any(word in option for word in ("time", "duration", "timeout")):
            assert option.endswith("-s"), f"{command} {option}: a number of seconds is spelled --...-s"
    if "--threads" in options:
        assert options["--threads"].nargs == "+", command


def test_an_old_option_name_is_not_taken_as_a_prefix_of_a_new_one() -> None:
    from benchlib.cli import build_parser

    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["run", "--min-time", "0.1"])
    assert stopped.value.code == 2
