"""The notebooks' prose: what a reader sees before running them (they are committed without outputs).

Every notebook opens with a Markdown cell that links to a document under docs/ that exists; the
notebooks that teach the method (article, method ablation, precision) explain it in Markdown before
their first measuring cell; and the prose speaks to the reader about the benchmark, never about how
the project was developed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.conftest import NOTEBOOK_FILES, NOTEBOOKS_DIR, ROOT

#: The notebooks whose purpose is to teach the method: they explain it before anything is measured.
TEACHING = ("article", "method_ablation", "precision")
#: A call that starts the measurement in one of the teaching notebooks.
MEASURING_CALL = re.compile(r"\b(run_article|run_ablation|run_cases)\(")
#: A Markdown link's target: ``[text](target)``.
LINK = re.compile(r"\]\(([^)\s]+)\)")
WORD = re.compile(r"\S+")
#: Words that would speak about the project's development instead of to the reader: an issue ("the issue's"
#: included) or an issue's number (``#12``; an HTML entity such as ``&#91;`` is not one).
FORBIDDEN = re.compile(r"\bissues?\b|(?<![&\w])#\d+\b", re.IGNORECASE)
#: Markdown words each teaching notebook holds before its first measuring cell, and in all.
WORDS_BEFORE_MEASURING = 400
WORDS_IN_ALL = 600


def cells(name: str) -> list[nbformat.NotebookNode]:
    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4).cells


def markdown_words(sources: list[nbformat.NotebookNode]) -> int:
    return sum(len(WORD.findall(cell.source)) for cell in sources if cell.cell_type == "markdown")


def docs_links(text: str) -> list[Path]:
    """The files under docs/ that ``text``'s Markdown links point to (anchors dropped), resolved from notebooks/."""
    targets = [target.split("#", 1)[0] for target in LINK.findall(text)]
    paths = [(NOTEBOOKS_DIR / target).resolve() for target in targets if target and "://" not in target]
    return [path for path in paths if (ROOT / "docs") in path.parents]


def test_there_are_notebooks_and_teaching_ones_among_them() -> None:
    names = {path.stem for path in NOTEBOOK_FILES}
    assert len(NOTEBOOK_FILES) >= 10
    assert set(TEACHING) <= names


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_markdown_never_mentions_an_issue(path: Path) -> None:
    for index, cell in enumerate(cells(path.stem)):
        if cell.cell_type == "markdown":
            found = FORBIDDEN.search(cell.source)
            assert found is None, f"{path.name} cell {index} says {found.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_first_cell_is_markdown_linking_to_an_existing_doc(path: Path) -> None:
    first = cells(path.stem)[0]
    assert first.cell_type == "markdown", f"{path.name} does not open with a Markdown cell"
    links = docs_links(first.source)
    assert links, f"{path.name}'s first cell links to no document under docs/"
    missing = [str(link.relative_to(ROOT)) for link in links if not link.is_file()]
    assert not missing, f"{path.name}'s first cell links to documents that do not exist: {missing}"


def test_the_forbidden_words_are_found() -> None:
    for text in ("see the issue", "the issue's example", "Issues", "fixed in #12", "(#3)"):
        assert FORBIDDEN.search(text), text
    for text in ("a tissue", "&#91;x&#93;", "# Heading", "step #a", "C#1"):
        assert not FORBIDDEN.search(text), text


def test_a_link_to_a_missing_doc_is_caught() -> None:
    # the helper the test above relies on: it resolves from notebooks/ and keeps only docs/ targets
    links = docs_links("[a](../docs/measurement.md#stop) [b](../docs/no-such-file.md) [c](https://x.org/docs/a.md)")
    assert [link.name for link in links] == ["measurement.md", "no-such-file.md"]
    assert links[0].is_file() and not links[1].is_file()


@pytest.mark.parametrize("name", TEACHING)
def test_teaching_notebooks_explain_the_method_before_measuring(name: str) -> None:
    notebook = cells(name)
    measuring = [i for i, cell in enumerate(notebook)
                 if cell.cell_type == "code" and MEASURING_CALL.search(cell.source)]
    assert measuring, f"{name}: no cell calls run_article, run_ablation or run_cases"
    before = markdown_words(notebook[: measuring[0]])
    assert before >= WORDS_BEFORE_MEASURING, f"{name}: {before} words of Markdown before the first measuring cell"
    total = markdown_words(notebook)
    assert total >= WORDS_IN_ALL, f"{name}: {total} words of Markdown in all"
