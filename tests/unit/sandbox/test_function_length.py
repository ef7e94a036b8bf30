"""No function in dcp/sandbox is longer than 120 lines (issue #13's acceptance).

The repository-wide check of the same rule leaves dcp/sandbox to this test; together they cover the tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[3] / "dcp" / "sandbox"
MAX_LINES = 120


def function_lengths(path: Path) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines, decorators included) of every function in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                assert child.end_lineno is not None
                out.append((f"{prefix}{child.name}", first, child.end_lineno - first + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def test_the_check_sees_the_sandbox_functions() -> None:
    files = sorted(SANDBOX.rglob("*.py"))
    assert len(files) > 30
    names = {name for path in files for name, _, _ in function_lengths(path)}
    assert {"Dispatcher._dispatch", "Dispatcher._identify", "Dispatcher._parse", "Dispatcher._invoke"} <= names


def test_the_check_measures_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = tmp_path / "long.py"
    source.write_text(f"class A:\n    @staticmethod\n    def f():\n{body.replace('    ', '        ')}\n")
    assert function_lengths(source) == [("A.f", 2, MAX_LINES + 2)]


@pytest.mark.parametrize("path", sorted(SANDBOX.rglob("*.py")), ids=lambda p: str(p.relative_to(SANDBOX)))
def test_no_sandbox_function_is_longer_than_120_lines(path: Path) -> None:
    too_long = [
        f"{path.relative_to(SANDBOX.parent.parent)}:{line} {name} ({length} lines)"
        for name, line, length in function_lengths(path)
        if length > MAX_LINES
    ]
    assert not too_long, "split these functions: " + "; ".join(too_long)
