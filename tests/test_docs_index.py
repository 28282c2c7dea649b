"""The documentation holds together: every document is in the index, every relative link leads to a
file, and the commands and tables of the user-facing guides match the code they describe."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_INLINE_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def link_targets(text: str) -> list[str]:
    """Targets of the Markdown links in ``text`` (inline and reference-style), outside code."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def relative_file(target: str) -> str | None:
    """The file part of a relative link (anchor and query stripped), or None for a URL or a bare anchor."""
    if _SCHEME.match(target):
        return None  # http:, https:, mailto: ...: not a file of this repository
    path = target.split("#", 1)[0].split("?", 1)[0]
    return path or None


def broken_links(folder: Path) -> list[str]:
    """``FILE: target`` for every relative link of ``folder``'s Markdown files (subfolders too) that leads nowhere."""
    broken = []
    for document in sorted(folder.rglob("*.md")):
        for target in link_targets(document.read_text(encoding="utf-8")):
            path = relative_file(target)
            if path is not None and not (document.parent / path).exists():
                broken.append(f"{document.relative_to(folder)}: {target}")
    return broken


def test_every_document_is_linked_from_the_index() -> None:
    linked = {(DOCS / path).resolve() for path in map(relative_file, link_targets(INDEX.read_text(encoding="utf-8")))
              if path is not None}
    # docs/ and docs/evidence/; a generated results page is listed by docs/results/README.md
    # (tests/test_docs_checks.py checks every file, charts included)
    documents = {path.resolve() for path in DOCS.rglob("*.md")
                 if path != INDEX and (DOCS / "results") not in path.parents}
    missing = sorted(str(path.relative_to(DOCS.resolve())) for path in documents - linked)
    assert not missing, f"docs/README.md does not link: {', '.join(missing)}"


def test_every_relative_link_in_the_docs_leads_to_a_file() -> None:
    assert not broken_links(DOCS)


def test_the_link_check_finds_a_broken_link_and_ignores_urls_anchors_and_code(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# There\n")
    (tmp_path / "page.md").write_text(
        "[ok](there.md#there) [anchor](#here) [url](https://example.org/x.md) [mail](mailto:a@b.c)\n"
        "`[in code](nowhere.md)`\n```\n[in a block](nowhere-either.md)\n```\n"
        "[gone](missing.md#part) and [ref]\n\n[ref]: also-missing.md\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.md").write_text("[up](../there.md) [not here](there.md)\n")
    assert broken_links(tmp_path) == ["page.md: missing.md#part", "page.md: also-missing.md", "sub/deeper.md: there.md"]


# -- docs/your-model.md: its commands and its notebook table -----------------------------------------------

def _commands(text: str, program: str) -> list[list[str]]:
    """Every command line of ``text``'s code blocks that starts with ``program``, continuations joined and
    comments dropped, as argument lists."""
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith(program):
                commands.append(shlex.split(line, comments=True))
    return commands


@pytest.fixture()
def user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a small valid ``my.onnx`` (the guide's example file), made the current directory."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "my.onnx"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_your_model_commands_are_accepted_by_the_real_parser(user_files: Path) -> None:
    from benchlib.cli import build_parser

    commands = _commands((DOCS / "your-model.md").read_text(encoding="utf-8"), "python -m benchlib ")
    assert {argv[3] for argv in commands} >= {"verify", "run", "report"}
    for argv in commands:
        try:
            build_parser().parse_args(argv[3:])
        except SystemExit as exc:
            pytest.fail(f"docs/your-model.md: `{shlex.join(argv)}` is refused by the parser (exit {exc.code})")


def _notebook_parameters(path: Path) -> dict[str, str]:
    """Name → default (as written) of each assignment in a notebook's ``parameters`` cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    found = re.findall(r"^(\w+)\s*:[^=]*=\s*(.+?)\s*(?:#.*)?$", "".join(cell["source"]), re.MULTILINE)
    return dict(found)


def test_the_your_model_notebook_parameters_are_the_documented_ones() -> None:
    text = (DOCS / "your-model.md").read_text(encoding="utf-8")
    section = text.split("## The your_model notebook", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, str] = {}
    for names, default in re.findall(r"^\| ((?:`\w+`(?:, )?)+) \| `([^`]*)` \|", section, re.MULTILINE):
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = default
    actual = _notebook_parameters(ROOT / "notebooks" / "your_model.ipynb")
    assert documented == actual
    for argv in _commands(section, ".venv/bin/papermill"):  # every parameter the example passes exists
        given = [argv[i + 1] for i, a in enumerate(argv) if a == "-p"]
        given += [value.split(":", 1)[0] for a, value in zip(argv, argv[1:], strict=False) if a == "-y"]
        assert set(given) <= set(actual), f"unknown notebook parameter(s) in `{shlex.join(argv)}`"


# -- docs/troubleshooting.md: the install commands a skipped record names ----------------------------------

def test_the_troubleshooting_table_names_each_backends_modules_and_requirement() -> None:
    from benchlib.backends.registry import REGISTRY

    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    rows = {name: (modules, requirement) for name, modules, requirement
            in re.findall(r"^\| (\w+) \| ((?:`\w+`(?:, )?)+) \| `([^`]+)` \|$", text, re.MULTILINE)}
    assert set(rows) == set(REGISTRY)
    for name, entry in REGISTRY.items():
        modules, requirement = rows[name]
        assert tuple(re.findall(r"`(\w+)`", modules)) == entry.modules, name
        assert requirement == entry.requirement, name
