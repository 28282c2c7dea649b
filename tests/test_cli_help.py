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
