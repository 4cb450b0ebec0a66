"""The layering holds: no import cycle between the packages of robo-os, the memory imports
nothing of robo-os, and the distributions depend on each other without a cycle.

The import graph is read from the installed packages' source with `ast` (nothing is
imported): every `import` counts, at module level or inside a function, except those under
`if TYPE_CHECKING:`. Modules collapse to components:

- each subpackage of `robo_os` is one (`robo_os.skill`, `robo_os.sim`, ...), except
  `robo_os.brain`, whose subpackages are (`robo_os.brain.planning`, `.runtime`, `.api`);
- a module directly in `robo_os/` or `robo_os/brain/` is its own component: the
  foundations (`errors`, `contracts`, `settings`) and the composition roots
  (`robo_os.stack`, `robo_os.cli`, `robo_os.brain.app`, `robo_os.evaluation`: it starts
  a stack for `robo-os eval`), which may import anything
  because nothing below them imports them back;
- `robo_os_memory` and `robo_os_skills` are one each.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGES = ("robo_os", "robo_os_memory", "robo_os_skills")
DISTRIBUTIONS = ("robo-os", "robo-os-memory", "robo-os-skills")
SPLIT = {"robo_os": 2, "robo_os.brain": 3}
"""A package whose modules collapse at a finer depth than its parent's (longest match)."""


def package_sources(package: str) -> Iterator[tuple[str, Path]]:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    for location in spec.submodule_search_locations:
        root = Path(location)
        for path in sorted(root.rglob("*.py")):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def component(module: str) -> str:
    depth = 1
    for prefix, d in SPLIT.items():
        if module == prefix or module.startswith(prefix + "."):
            depth = max(depth, d)
    return ".".join(module.split(".")[:depth])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """The first-party modules one module imports (names resolved, relative ones too)."""

    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.found: set[str] = set()

    def _add(self, name: str) -> None:
        if name.split(".")[0] in PACKAGES:
            self.found.add(name)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
        else:
            for stmt in node.orelse:
                self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            self._add(sub if sub in self.known else target)


@functools.cache
def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing component, imported component) -> the modules that import it."""
    sources = {name: path for package in PACKAGES for name, path in package_sources(package)}
    known = set(sources)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in sources.items():
        visitor = _Imports(module, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for target in sorted(visitor.found):
            a, b = component(module), component(target)
            if a != b:
                edges[a, b].append(f"{module} -> {target}")
    return edges


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles, found one at a time by graphlib and broken at their first edge until none is
    left: every cycle is named at least once."""
    graph = {node: set(deps) for node, deps in graph.items()}
    found: list[list[str]] = []
    while True:
        try:
            TopologicalSorter(graph).prepare()
        except CycleError as e:
            cycle: list[str] = e.args[1]  # [n0, n1, ..., n0]: each depends on the previous
            found.append(cycle)
            graph[cycle[1]].discard(cycle[0])
        else:
            return found


def test_no_import_cycle_between_components() -> None:
    edges = import_edges()
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    cycles = cycles_of(graph)
    report = []
    for cycle in cycles:
        # graphlib lists a cycle in dependency order (each depends on the previous); say it
        # in import order, with who does the importing
        path = cycle[::-1]
        report.append(" -> ".join(path))
        for a, b in itertools.pairwise(path):
            report += [f"    {line}" for line in edges[a, b]]
    assert not cycles, "import cycles between components:\n" + "\n".join(report)


def test_memory_imports_nothing_of_robo_os() -> None:
    edges = import_edges()
    offending = [
        line
        for (a, b), lines in edges.items()
        if a == "robo_os_memory" and b != "robo_os_memory"
        for line in lines
    ]
    assert offending == []


def test_the_composition_roots_are_imported_by_nothing_below_them() -> None:
    roots = {"robo_os.cli", "robo_os.stack", "robo_os.brain.app", "robo_os.evaluation"}
    offending = [
        line
        for (a, b), lines in sorted(import_edges().items())
        if b in roots and a not in roots
        for line in lines
    ]
    assert offending == []


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def test_distributions_depend_on_each_other_without_a_cycle() -> None:
    # every requirement counts, extras included: a cycle through an extra is what plain
    # pip could not resolve
    graph = {
        dist: {
            name
            for req in importlib.metadata.requires(dist) or []
            if (name := _requirement_name(req)) in DISTRIBUTIONS
        }
        for dist in DISTRIBUTIONS
    }
    assert cycles_of(graph) == [], graph


def test_each_distribution_declares_the_first_party_distributions_it_imports() -> None:
    owner = {package: dist for package, dist in zip(PACKAGES, DISTRIBUTIONS, strict=True)}
    declared = {
        dist: {_requirement_name(req) for req in importlib.metadata.requires(dist) or []}
        for dist in DISTRIBUTIONS
    }
    missing = sorted(
        f"{owner[a.split('.')[0]]} imports {b} without depending on {owner[b.split('.')[0]]}"
        for (a, b) in import_edges()
        if a.split(".")[0] != b.split(".")[0]
        and owner[b.split(".")[0]] not in declared[owner[a.split(".")[0]]]
    )
    assert missing == []
