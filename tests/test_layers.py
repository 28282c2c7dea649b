"""The package's layers: no import runs up a layer, and no import cycle exists.

Every import is read from the source with :mod:`ast`, including imports written inside functions (they
hide a dependency from a reader of the module's head, not from this test). The order below is the one
the README's "Layout" section draws; a module may import its own layer and the layers under it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PACKAGE

# Bottom to top. The names are the first part after ``benchlib.``; "" is the package's own __init__,
# which re-exports the public API and so sits above everything it names.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "data", "defaults"),
    ("system",),
    ("results",),
    ("models",),
    ("precision",),
    ("backends",),
    ("scenarios",),
    ("engine",),
    ("roofline",),
    ("studies",),
    ("report",),
    ("notebook",),
    ("cli",),
    ("__main__", ""),
)
LEVEL = {name: index for index, names in enumerate(LAYERS) for name in names}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their __init__)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module that ``name`` (a module or a name inside one) lives in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            # "from pkg import sub" imports the submodule; "from pkg import name" imports pkg itself.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            if target == "benchlib" or target.startswith("benchlib."):
                resolved = _resolve(target, modules)
                if resolved and resolved != module:
                    found.add(resolved)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = module_files(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where the imported module sits in a higher layer."""
    return sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if LEVEL[layer_of(target)] > LEVEL[layer_of(module)]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_top_level_name_has_a_layer() -> None:
    unplaced = sorted({layer_of(m) for m in module_files()} - set(LEVEL))
    assert not unplaced, f"modules outside every layer (add them to LAYERS and the README): {unplaced}"


def test_no_import_runs_up_a_layer() -> None:
    upward = upward_imports(import_graph())
    assert not upward, "imports that run up a layer:\n" + "\n".join(f"{a} -> {b}" for a, b in upward)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_readme_draws_the_same_layers() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    drawn = [line.split()[0].rstrip("/").removesuffix(".py") for line in section.splitlines()
             if line.startswith("  ") and not line.startswith("   ")]
    expected = [name for names in reversed(LAYERS) for name in reversed(names) if name not in ("", "__main__", "data")]
    assert drawn == expected, f"README's layout, top to bottom: {drawn}; the layers: {expected}"


# The checks above must be able to fail: a made-up package with one upward import and one cycle.
@pytest.fixture()
def toy_package(tmp_path: Path) -> Path:
    root = tmp_path / "benchlib"
    for sub in ("system", "engine", "report"):
        (root / sub).mkdir(parents=True)
        (root / sub / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "system" / "a.py").write_text("def f():\n    from benchlib.report.view import show\n")
    (root / "report" / "view.py").write_text("from ..engine import loop\nshow = 1\n")
    (root / "engine" / "loop.py").write_text("import benchlib.engine.step\n")
    (root / "engine" / "step.py").write_text("from benchlib.engine import loop\n")
    return root


def test_the_checks_find_an_upward_import_inside_a_function_and_a_cycle(toy_package: Path) -> None:
    graph = import_graph(toy_package)
    assert graph["benchlib.report.view"] == {"benchlib.engine.loop"}
    assert upward_imports(graph) == [("benchlib.system.a", "benchlib.report.view")]
    assert cycles(graph) == [["benchlib.engine.loop", "benchlib.engine.step"]]
