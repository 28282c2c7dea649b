"""Checks that keep the documentation true: every command line in README.md and docs/ parses with the real
argument parser, every command is in the README's command list, and every file in docs/ is listed.

The link checks and the your-model guide's checks are in tests/test_docs_index.py; the notebooks' prose
(no mention of an issue) in tests/test_notebook_prose.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from benchlib.cli import build_parser
from tests.conftest import ROOT
from tests.test_docs_index import DOCS, INDEX, link_targets, relative_file

README = ROOT / "README.md"
#: Every document whose commands are checked.
DOCUMENTS = [README, *sorted(DOCS.rglob("*.md"))]
#: Generated results pages (``benchlib results-page``) live here; their index lists them, not docs/README.md.
RESULTS = DOCS / "results"

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
#: Where a command starts: ``python -m benchlib`` (any interpreter path) after a space, or a bare ``benchlib``
#: at the start of the code (after a ``$`` prompt, ``;``, ``&&`` or ``|``): ``<!-- benchlib report -->`` is a marker.
_START = re.compile(r"(?:(?:^|(?<=\s))(?P<python>(?:\S*/)?python3?\s+-m\s+)|(?:^|(?<=^\$ )|(?<=[;&|] )))"
                    r"benchlib(?=\s|$)")
#: Words that stand for a value in a command line (``--num-runs N``, ``compare BASE NEW``, ``<file>``, ``...``).
_PLACEHOLDER = re.compile(r"^(<[^>]*>|\.\.\.|…|[A-Z][A-Z0-9_]*)$")
#: A value for each option whose placeholder cannot stand as it is; any other placeholder becomes a path.
SAMPLES = {"--num-runs": "3", "--backends": "numpy", "--models": "fnn", "--scenarios": "Offline",
           "--precisions": "fp32", "--batch-sizes": "1", "--threads": "1", "--latency-bound-ms": "10",
           "--min-time-s": "0.1", "--max-time-s": "1", "--timeout-s": "60", "--target-ci": "0.01",
           "--variants": "default", "--local": "2", "--min-change": "0.05"}


def subcommands() -> set[str]:
    subparsers = next(a for a in build_parser()._actions if a.choices)  # noqa: SLF001 (argparse has no public walk)
    return set(subparsers.choices)


def code_texts(text: str) -> list[str]:
    """Every line of ``text``'s fenced code blocks (backslash continuations joined) and every inline code span."""
    lines = []
    for match in _FENCE.finditer(text):
        lines += match.group(2).replace("\\\n", " ").splitlines()
    return lines + [match.group(2).replace("\n", " ") for match in _SPAN.finditer(_FENCE.sub("", text))]


def command_lines(text: str, commands: set[str]) -> list[str]:
    """The benchlib command lines in ``text``'s code, from ``benchlib`` on: every ``python -m benchlib ...``, and
    a bare ``benchlib WORD ...`` when WORD is a command (``benchlib did not write ...`` quotes a message)."""
    found = []
    for line in code_texts(text):
        for match in _START.finditer(line):
            rest = line[match.end():].split()
            if rest and (match.group("python") or rest[0] in commands):
                found.append(line[match.start("python") if match.group("python") else match.start():].strip())
    return found


def sample_argv(line: str) -> list[str]:
    """The arguments of ``line`` (after ``benchlib``) with optional parts included and placeholders replaced."""
    words = shlex.split(line, comments=True)
    words = words[words.index("benchlib") + 1:] if "benchlib" in words else words[3:]
    argv: list[str] = []
    for word in words:
        if word.startswith("[") and "]" not in word[:-1]:
            word = word[1:]  # "[--num-runs" of "[--num-runs N]": the optional part is checked too
        if word.endswith("]") and "[" not in word:
            word = word[:-1]
        if not word:
            continue
        if _PLACEHOLDER.match(word):
            option = argv[-1] if argv and argv[-1].startswith("--") else None
            if word in ("...", "…") and option is None:
                continue  # "benchlib run ...": more options, none in particular
            word = SAMPLES.get(option, "sample-path") if option else "sample-path"
        argv.append(word)
    return argv


@pytest.fixture()
def onnx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory where the ONNX files the docs name can be made (``--models`` checks them)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _make_onnx(path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_the_docs_hold_commands_and_the_finder_tells_a_command_from_a_message() -> None:
    commands = subcommands()
    text = ("```bash\npython -m benchlib run --batch-sizes 1 \\\n  1000   # both\n```\n"
            "`benchlib report outputs/` and `benchlib did not write it` and `benchlib run: error: x`\n"
            "`.venv/bin/python -m benchlib env` and `<!-- benchlib report -->`\n")
    assert command_lines(text, commands) == ["python -m benchlib run --batch-sizes 1    1000   # both",
                                             "benchlib report outputs/", ".venv/bin/python -m benchlib env"]
    assert sample_argv("python -m benchlib article [--num-runs N]") == ["article", "--num-runs", "3"]
    assert sample_argv("benchlib scenarios [--backends ...] [--latency-bound-ms MS]") == \
        ["scenarios", "--backends", "numpy", "--latency-bound-ms", "10"]
    assert sample_argv("benchlib run ...") == ["run"]
    total = sum(len(command_lines(d.read_text(encoding="utf-8"), commands)) for d in DOCUMENTS)
    assert total >= 50


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_line_parses(document: Path, onnx_files: Path) -> None:
    commands = subcommands()
    refused = []
    for line in command_lines(document.read_text(encoding="utf-8"), commands):
        argv = sample_argv(line)
        if argv and argv[0].startswith("{"):  # "{verify,env,...}": a list of commands, each must exist
            names = [n for n in argv[0].strip("{},").split(",") if n]
            refused += [f"`{line}`: {name} is not a command" for name in names if name not in commands]
            continue
        for word in argv:
            if word.endswith(".onnx"):
                _make_onnx(onnx_files / word)
        if "--help" in argv or "-h" in argv:
            if not argv or argv[0] not in commands:
                refused.append(f"`{line}`: no such command")
            continue
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            refused.append(f"`{line}` (as {shlex.join(argv)}): exit {exc.code}")
    assert not refused, f"{document.relative_to(ROOT)}: " + "; ".join(refused)


def test_every_command_is_in_the_readmes_command_list() -> None:
    section = README.read_text(encoding="utf-8").split("\n## Command line", 1)[1].split("\n## ", 1)[0]
    listed = {sample_argv(line)[0] for line in command_lines(section, subcommands()) if sample_argv(line)}
    missing = sorted(subcommands() - listed)
    assert not missing, f"README.md's command list does not show: {', '.join(missing)}"


def _linked_from(document: Path) -> set[Path]:
    targets = map(relative_file, link_targets(document.read_text(encoding="utf-8")))
    return {(document.parent / path).resolve() for path in targets if path is not None}


def unlisted_files(docs: Path) -> list[str]:
    """Files under ``docs`` that its index does not list: every file outside ``results/`` is linked from
    ``README.md``; a generated results page from ``results/README.md``, and each page's charts from the page."""
    index = docs / "README.md"
    listed = _linked_from(index)
    results = docs / "results"
    if (results / "README.md").exists():
        pages = _linked_from(results / "README.md")
        listed |= pages
        for page in pages:
            if page.suffix == ".md" and page.is_file():
                listed |= _linked_from(page)
    files = [p for p in docs.rglob("*") if p.is_file() and p != index]
    return sorted(str(p.relative_to(docs)) for p in files if p.resolve() not in listed)


def test_every_file_in_docs_is_listed_in_the_index() -> None:
    missing = unlisted_files(DOCS)
    assert not missing, f"{INDEX.relative_to(ROOT)} does not list: {', '.join(missing)}"


def test_the_listing_check_finds_unlisted_files_and_follows_the_results_index(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    (tmp_path / "results" / "m-2025-01-01").mkdir(parents=True)
    (tmp_path / "README.md").write_text("[a](a.md) [r](results/README.md)\n")
    (tmp_path / "a.md").write_text("a\n")
    (tmp_path / "evidence" / "q.md").write_text("q\n")
    (tmp_path / "results" / "README.md").write_text("[page](m-2025-01-01.md)\n")
    (tmp_path / "results" / "m-2025-01-01.md").write_text("![chart](m-2025-01-01/c.png)\n")
    (tmp_path / "results" / "m-2025-01-01" / "c.png").write_bytes(b"")
    (tmp_path / "results" / "m-2025-01-01" / "d.png").write_bytes(b"")
    assert unlisted_files(tmp_path) == ["evidence/q.md", "results/m-2025-01-01/d.png"]
