"""The layout's structural rules (docs/architecture.md, DESIGN "Layout"), checked with `ast`.

Nothing of the project is imported: every .py file of the project's packages is parsed, the
import graph is built from the source (imports inside functions, `from x import y`, relative
imports, `import a.b`, `importlib.import_module("literal")`), and the rules are checked on it:

- no import cycle, between modules or between packages;
- `replenishment/` and `forecasting/` import nothing of the project outside themselves;
- imports flow one way, down LAYERS (a package imports only packages listed below it);
- only `warehouse/` runs SQL (`.execute(` / `.executemany(`);
- `flows/` is thin Prefect wiring: under FLOWS_MAX_LINES lines, and every module imports Prefect
  or is the CLI, the settings or a package `__init__`.

The helpers take a root folder so the tests at the bottom can run them on a small synthetic
tree with planted faults, to show each check fails when it should.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# DESIGN "Layout", top to bottom: a package may import only packages below it.
LAYERS = (
    "flows",
    "web",
    "planner",
    "landing",
    "simulation",
    "warehouse",
    "forecasting",
    "replenishment",
    "sampledata",
)
SELF_CONTAINED = ("replenishment", "forecasting")  # import nothing else of the project
SQL_PACKAGE = "warehouse"  # the only package that calls .execute(
SQL_CALLS = frozenset({"execute", "executemany"})
FLOWS_MAX_LINES = 1300  # flows/ must stay *under* this (signals, failure records and the
# cluster fan-out are Prefect wiring too; logic still belongs in the packages)
FLOWS_WITHOUT_PREFECT = frozenset({"cli.py", "settings.py", "__init__.py"})


# --------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class Module:
    name: str  # dotted: planner.report
    path: Path
    is_package: bool  # an __init__.py

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # dotted name as written (absolute, after resolving relative imports)
    lineno: int


def find_modules(root: Path, packages: Iterable[str] = LAYERS) -> dict[str, Module]:
    """Every .py file under root/<package>/ for each package that exists, keyed by dotted name."""
    modules: dict[str, Module] = {}
    for pkg in packages:
        base = root / pkg
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, is_package)
    return modules


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _relative_base(module: Module, level: int) -> str | None:
    """The package a relative import of this level starts from (None if it climbs too high)."""
    parts = module.name.split(".")
    if not module.is_package:
        parts = parts[:-1]
    drop = level - 1
    if drop >= len(parts):
        return None
    return ".".join(parts[: len(parts) - drop])


def imports_in(module: Module) -> list[Import]:
    """Every import statement in the file, wherever it is (module level, functions, if blocks)."""
    found: list[Import] = []
    for node in ast.walk(_parse(module.path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module.name, alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _relative_base(module, node.level)
                if base is None:
                    continue
                prefix = f"{base}.{node.module}" if node.module else base
            else:
                prefix = node.module or ""
            for alias in node.names:
                # `from x import y`: y may be a submodule (x.y) or a name defined in x;
                # resolve_target keeps the longest part that is a module of the project.
                target = prefix if alias.name == "*" else f"{prefix}.{alias.name}"
                found.append(Import(module.name, target, node.lineno))
        elif isinstance(node, ast.Call) and _is_import_module_call(node):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(Import(module.name, arg.value, node.lineno))
    return found


def _is_import_module_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in {"import_module", "__import__"} and bool(node.args)


def resolve_target(target: str, modules: dict[str, Module]) -> str | None:
    """The project module a dotted import name lands on: its longest prefix that is a module."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    path: Path
    lineno: int


def import_edges(modules: dict[str, Module]) -> list[Edge]:
    """Module-to-module imports inside the project (self-imports dropped)."""
    edges: list[Edge] = []
    for module in modules.values():
        for imp in imports_in(module):
            target = resolve_target(imp.target, modules)
            if target is not None and target != module.name:
                edges.append(Edge(module.name, target, module.path, imp.lineno))
    return sorted(edges, key=lambda e: (str(e.path), e.lineno, e.imported))


def _package(name: str) -> str:
    return name.split(".", 1)[0]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete cycle per strongly connected component of more than one node.

    Each cycle is returned as a path that starts and ends on the same node.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(graph) | {n for targets in graph.values() for n in targets})

    for start in nodes:  # iterative Tarjan, so deep graphs do not hit the recursion limit
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    cycles = []
    for component in sorted(components):
        cycles.append(_cycle_through(component[0], set(component), graph))
    return cycles


def _cycle_through(start: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child in members and child not in previous:
                    previous[child] = node
                    next_frontier.append(child)
        frontier = next_frontier
    raise AssertionError(f"{start} is not on a cycle")  # unreachable for an SCC member


def _where(edge: Edge, root: Path) -> str:
    return f"{edge.path.relative_to(root)}:{edge.lineno}"


def _edge_lines(cycle: list[str], edges: list[Edge], root: Path, key) -> list[str]:
    lines = []
    for a, b in pairwise(cycle):
        first = next(e for e in edges if key(e.importer) == a and key(e.imported) == b)
        lines.append(f"    {a} -> {b}  ({_where(first, root)} imports {first.imported})")
    return lines


def module_cycle_violations(root: Path) -> list[str]:
    modules = find_modules(root)
    edges = import_edges(modules)
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
    return [
        "\n".join(["module cycle: " + " -> ".join(cycle), *_edge_lines(cycle, edges, root, str)])
        for cycle in find_cycles(graph)
    ]


def package_cycle_violations(root: Path) -> list[str]:
    modules = find_modules(root)
    edges = [e for e in import_edges(modules) if _package(e.importer) != _package(e.imported)]
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(_package(e.importer), set()).add(_package(e.imported))
    return [
        "\n".join(
            ["package cycle: " + " -> ".join(cycle), *_edge_lines(cycle, edges, root, _package)]
        )
        for cycle in find_cycles(graph)
    ]


def self_contained_violations(root: Path, packages: Iterable[str] = SELF_CONTAINED) -> list[str]:
    """Imports from a self-contained package into any other package of the project."""
    modules = find_modules(root)
    wanted = set(packages)
    return [
        f"{_where(e, root)}: {e.importer} imports {e.imported} "
        f"({_package(e.importer)}/ may import nothing of the project outside itself)"
        for e in import_edges(modules)
        if _package(e.importer) in wanted and _package(e.imported) != _package(e.importer)
    ]


def layer_violations(root: Path, layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Imports that go up (or sideways) the layer list instead of down it."""
    modules = find_modules(root, layers)
    rank = {pkg: i for i, pkg in enumerate(layers)}
    out = []
    for e in import_edges(modules):
        src, dst = _package(e.importer), _package(e.imported)
        if src != dst and rank[dst] <= rank[src]:
            out.append(
                f"{_where(e, root)}: {e.importer} imports {e.imported} "
                f"({dst}/ sits above {src}/ in the layout)"
            )
    return out


def sql_call_violations(root: Path, allowed: str = SQL_PACKAGE) -> list[str]:
    """`.execute(` / `.executemany(` calls in any project package other than `allowed`."""
    found = []
    for module in find_modules(root).values():
        if module.package == allowed:
            continue
        for node in ast.walk(_parse(module.path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
            ):
                found.append((str(module.path.relative_to(root)), node.lineno, node.func.attr))
    return [f"{path}:{line}: .{attr}( outside {allowed}/" for path, line, attr in sorted(found)]


def flows_line_count(root: Path) -> int:
    total = 0
    for module in find_modules(root, ["flows"]).values():
        with module.path.open("rb") as f:
            total += sum(1 for _ in f)
    return total


def _imports_prefect(module: Module) -> bool:
    for imp in imports_in(module):
        top = imp.target.split(".", 1)[0]
        if top == "prefect" or top.startswith("prefect_"):
            return True
    return False


def flows_without_prefect(root: Path) -> list[str]:
    return [
        f"{module.path.relative_to(root)}: imports neither prefect nor a prefect_* package "
        f"(flows/ is Prefect wiring; only {', '.join(sorted(FLOWS_WITHOUT_PREFECT))} are exempt)"
        for module in sorted(find_modules(root, ["flows"]).values(), key=lambda m: m.path)
        if module.path.name not in FLOWS_WITHOUT_PREFECT and not _imports_prefect(module)
    ]


def _report(title: str, violations: list[str]) -> str:
    return f"{title}: {len(violations)} found\n" + "\n".join(violations)


# --------------------------------------------------------------------------- the real tree


def test_the_graph_is_read_at_all():
    """Guards the checks below against passing because the walker found nothing."""
    modules = find_modules(ROOT)
    for pkg in LAYERS:
        if (ROOT / pkg).is_dir():
            assert any(m.package == pkg for m in modules.values()), f"no modules found in {pkg}/"
    edges = import_edges(modules)
    assert len(modules) > 20 and len(edges) > 20, (len(modules), len(edges))
    assert any(_package(e.importer) == "flows" and _package(e.imported) != "flows" for e in edges)


def test_no_import_cycle_between_modules():
    violations = module_cycle_violations(ROOT)
    assert not violations, _report("import cycles between modules", violations)


def test_no_import_cycle_between_packages():
    violations = package_cycle_violations(ROOT)
    assert not violations, _report("import cycles between packages", violations)


def test_replenishment_and_forecasting_import_only_themselves():
    violations = self_contained_violations(ROOT)
    assert not violations, _report("imports out of a self-contained package", violations)


def test_imports_flow_down_the_layout():
    violations = layer_violations(ROOT)
    assert not violations, _report(
        "imports against the layout (" + " > ".join(LAYERS) + ")", violations
    )


def test_only_warehouse_runs_sql():
    violations = sql_call_violations(ROOT)
    assert not violations, _report("SQL run outside warehouse/", violations)


def test_flows_is_under_the_line_budget():
    lines = flows_line_count(ROOT)
    assert lines < FLOWS_MAX_LINES, (
        f"flows/ has {lines} lines; it must stay under {FLOWS_MAX_LINES:,}"
    )


def test_every_flows_module_is_prefect_wiring():
    violations = flows_without_prefect(ROOT)
    assert not violations, _report("flows/ modules that are not Prefect wiring", violations)


# --------------------------------------------------------------------------- the helpers


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CLEAN = {
    "flows/__init__.py": "",
    "flows/cli.py": "import planner.report\n",
    "flows/nightly.py": "from prefect import flow\nfrom warehouse import runs\n",
    "flows/dbt.py": "import prefect_dbt\n",
    "planner/__init__.py": "",
    "planner/report.py": "from . import contract\nfrom .contract import COLUMNS\n",
    "planner/contract.py": "from landing.schema import FEEDS\n",
    "landing/__init__.py": "",
    "landing/schema.py": "import replenishment.config\n",
    "warehouse/__init__.py": "",
    "warehouse/runs.py": "def go(con):\n    con.execute('x')\n    con.executemany('x', [])\n",
    "forecasting/__init__.py": "from .api import forecast\n",
    "forecasting/api.py": "import numpy\nfrom forecasting.models import ets\n",
    "forecasting/models/__init__.py": "",
    "forecasting/models/ets.py": "import math\nfrom .. import classify\n",
    "forecasting/classify.py": "",
    "replenishment/__init__.py": "",
    "replenishment/config.py": "from replenishment import policy\n",
    "replenishment/policy.py": "",
    "sampledata/__init__.py": "import random\n",
}


def test_helpers_pass_a_clean_tree(tmp_path):
    root = _tree(tmp_path, CLEAN)
    assert module_cycle_violations(root) == []
    assert package_cycle_violations(root) == []
    assert self_contained_violations(root) == []
    assert layer_violations(root) == []
    assert sql_call_violations(root) == []
    assert flows_without_prefect(root) == []
    assert flows_line_count(root) == 4


def test_helpers_read_every_import_form(tmp_path):
    root = _tree(
        tmp_path,
        {
            "planner/__init__.py": "",
            "planner/sub/__init__.py": "",
            "planner/sub/deep.py": (
                "from .. import report\n"  # relative, two levels, a submodule
                "from ..contract import X\n"  # relative into a module, a name
                "from . import sibling\n"
                "def late():\n"
                "    import landing.schema\n"  # inside a function, dotted
                "    from warehouse import runs as r\n"  # from-import of a submodule
                "    from warehouse import connect\n"  # from-import of a name in __init__
                "    import importlib\n"
                "    importlib.import_module('sampledata.world')\n"
            ),
            "planner/sub/sibling.py": "",
            "planner/report.py": "",
            "planner/contract.py": "",
            "landing/__init__.py": "",
            "landing/schema.py": "",
            "warehouse/__init__.py": "",
            "warehouse/runs.py": "",
            "sampledata/__init__.py": "",
            "sampledata/world.py": "",
        },
    )
    edges = import_edges(find_modules(root))
    got = {(e.imported, e.lineno) for e in edges if e.importer == "planner.sub.deep"}
    assert got == {
        ("planner.report", 1),
        ("planner.contract", 2),
        ("planner.sub.sibling", 3),
        ("landing.schema", 5),
        ("warehouse.runs", 6),
        ("warehouse", 7),
        ("sampledata.world", 9),
    }


def test_helpers_find_a_planted_cycle(tmp_path):
    # planner.report -> planner.compare -> planner.report, the second import hidden in a function
    files = dict(CLEAN)
    files["planner/report.py"] = "from planner import compare\n"
    files["planner/compare.py"] = "def f():\n    from .report import render\n"
    root = _tree(tmp_path, files)
    violations = module_cycle_violations(root)
    assert violations == [
        "module cycle: planner.compare -> planner.report -> planner.compare\n"
        "    planner.compare -> planner.report  (planner/compare.py:2 imports planner.report)\n"
        "    planner.report -> planner.compare  (planner/report.py:1 imports planner.compare)"
    ]
    assert package_cycle_violations(root) == []  # inside one package: not a package cycle


def test_helpers_find_a_planted_package_cycle(tmp_path):
    files = dict(CLEAN)
    files["warehouse/runs.py"] = "import landing.schema\n"  # landing -> replenishment, no loop
    files["replenishment/policy.py"] = "from warehouse.runs import x\n"  # closes the loop
    root = _tree(tmp_path, files)
    violations = package_cycle_violations(root)
    assert len(violations) == 1
    assert violations[0].startswith(
        "package cycle: landing -> replenishment -> warehouse -> landing\n"
        "    landing -> replenishment  (landing/schema.py:1 imports replenishment.config)\n"
    )
    assert "(replenishment/policy.py:1 imports warehouse.runs)" in violations[0]
    assert module_cycle_violations(root) == [
        "module cycle: landing.schema -> replenishment.config -> replenishment.policy"
        " -> warehouse.runs -> landing.schema\n"
        "    landing.schema -> replenishment.config  (landing/schema.py:1 imports"
        " replenishment.config)\n"
        "    replenishment.config -> replenishment.policy  (replenishment/config.py:1 imports"
        " replenishment.policy)\n"
        "    replenishment.policy -> warehouse.runs  (replenishment/policy.py:1 imports"
        " warehouse.runs)\n"
        "    warehouse.runs -> landing.schema  (warehouse/runs.py:1 imports landing.schema)"
    ]


def test_helpers_report_a_planted_upward_import(tmp_path):
    files = dict(CLEAN)
    files["warehouse/runs.py"] = "x = 1\n\n\ndef late():\n    from flows.settings import S\n"
    files["flows/settings.py"] = ""
    files["sampledata/__init__.py"] = "from replenishment import config\n"  # bottom reaching up
    root = _tree(tmp_path, files)
    assert layer_violations(root) == [
        "sampledata/__init__.py:1: sampledata imports replenishment.config "
        "(replenishment/ sits above sampledata/ in the layout)",
        "warehouse/runs.py:5: warehouse.runs imports flows.settings "
        "(flows/ sits above warehouse/ in the layout)",
    ]


def test_helpers_report_a_self_contained_package_reaching_out(tmp_path):
    files = dict(CLEAN)
    files["replenishment/policy.py"] = "import sampledata\n"  # down the layout, still banned
    files["forecasting/models/ets.py"] = "from ... import replenishment\n"  # climbs out: ignored
    files["forecasting/api.py"] = "from replenishment.config import C\n"
    root = _tree(tmp_path, files)
    violations = self_contained_violations(root)
    assert len(violations) == 2
    assert violations[0].startswith("forecasting/api.py:1: forecasting.api imports replenishment.")
    assert violations[1].startswith(
        "replenishment/policy.py:1: replenishment.policy imports sampledata"
    )


def test_helpers_report_a_planted_execute_outside_warehouse(tmp_path):
    files = dict(CLEAN)
    files["planner/report.py"] = "def rows(con):\n    return con.cursor().execute('select 1')\n"
    files["landing/schema.py"] = "import duckdb\nduckdb.connect().executemany('x', [])\n"
    root = _tree(tmp_path, files)
    assert sql_call_violations(root) == [
        "landing/schema.py:2: .executemany( outside warehouse/",
        "planner/report.py:2: .execute( outside warehouse/",
    ]


def test_helpers_report_flows_that_are_not_prefect(tmp_path):
    files = dict(CLEAN)
    files["flows/report_data.py"] = "import duckdb\n" + "x = 1\n" * (FLOWS_MAX_LINES + 5)
    files["flows/tasks.py"] = "def f():\n    from prefect.tasks import task\n"  # late is fine
    root = _tree(tmp_path, files)
    assert flows_without_prefect(root) == [
        "flows/report_data.py: imports neither prefect nor a prefect_* package "
        "(flows/ is Prefect wiring; only __init__.py, cli.py, settings.py are exempt)"
    ]
    assert flows_line_count(root) >= FLOWS_MAX_LINES


def test_find_cycles_on_plain_graphs():
    assert find_cycles({"a": {"b"}, "b": {"c"}}) == []
    assert find_cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}}) == [
        ["a", "b", "c", "a"],
        ["d", "e", "d"],
    ]


def test_test_file_names_are_unique():
    """pytest imports test files by basename (prepend mode): two of one name break collection."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py") or ".venv" in path.parts:
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
        seen[path.name] = path
    assert not clashes, "test files sharing a name: " + "; ".join(clashes)
