"""The layout's rules, read from the source with `ast`: layers point down, functions stay short.

* No import cycle between dcp's subpackages and top-level modules (function-level imports
  count too: a lazy import is still a dependency).
* dcp.aws (session, clients, errors) is the bottom layer: it imports nothing of dcp.stack,
  dcp.pipeline, dcp.commands or dcp.cli.
* No function over 120 lines in dcp/ and glue_jobs/.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 120
#: dcp/sandbox is being split in parallel (protocol/dispatch); it joins the length rule then.
LENGTH_EXCLUDED = ("dcp/sandbox/",)


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every dcp module `path` imports, anywhere in the file, absolute or relative."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "dcp" or name.startswith("dcp.")}


def _unit(module: str) -> str:
    """A module's layer unit: its subpackage (dcp.stack.build -> stack) or top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _known_units() -> set[str]:
    dcp = ROOT / "dcp"
    return {p.stem for p in dcp.glob("*.py")} | {p.name for p in dcp.iterdir() if (p / "__init__.py").exists()}


def unit_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the files that import it."""
    units = _known_units()
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted((ROOT / "dcp").rglob("*.py")):
        source = _unit(_module(path))
        for name in _imports(path):
            target = _unit(name)
            if target != source and target in units:
                graph[source][target].add(str(path.relative_to(ROOT)))
    return graph


def _cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """One cycle of `graph` as a path of units, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_subpackages() -> None:
    graph = unit_graph()
    cycle = _cycle(graph)
    detail = ""
    if cycle:
        detail = "; ".join(f"{a} -> {b} in {sorted(graph[a][b])}" for a, b in pairwise(cycle))
    assert cycle is None, f"import cycle {' -> '.join(cycle)}: {detail}"


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycle({"a": {"b": {"x"}}, "b": {"c": {"y"}}, "c": {"a": {"z"}}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": {"x"}}, "b": {}}) is None


def test_aws_is_the_bottom_layer() -> None:
    above = {"stack", "pipeline", "commands", "cli", "sandbox", "names"}
    imports = {target: files for target, files in unit_graph().get("aws", {}).items() if target in above}
    assert not imports, f"dcp.aws imports layers above it: {imports}"


def _long_functions(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_over_120_lines() -> None:
    files = [*sorted((ROOT / "dcp").rglob("*.py")), *sorted((ROOT / "glue_jobs").rglob("*.py"))]
    checked = [p for p in files if not str(p.relative_to(ROOT)).startswith(LENGTH_EXCLUDED)]
    assert len(checked) > 50
    long = [entry for path in checked for entry in _long_functions(path)]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
