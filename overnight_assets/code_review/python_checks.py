"""Python files through the standard library's `ast`: syntax errors and unused imports.

Only imports on lines the commit added are reported, so an old unused import is not repeated
every night; `__init__.py` files are skipped for unused imports (they re-export).
"""

from __future__ import annotations

import ast


def python_findings(path: str, source: bytes, added_lines: set[int]) -> list[tuple[int | None, str, str, str]]:
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        return [(error.lineno, "error", "syntax error", f"does not parse: {error.msg}")]
    except ValueError as error:  # e.g. null bytes
        return [(None, "error", "syntax error", f"does not parse: {error}")]
    if path.endswith("__init__.py"):
        return []
    used = _used_names(tree)
    return [
        (line, "warning", "unused import", f"'{name}' is imported but never used")
        for name, line in _imports(tree)
        if line in added_lines and name not in used
    ]


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [((alias.asname or alias.name.split(".")[0]), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found += [(alias.asname or alias.name, node.lineno) for alias in node.names if alias.name != "*"]
    return found


def _used_names(tree: ast.AST) -> set[str]:
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(_names_in_string(node.value))  # __all__ entries and string annotations
    return used


def _names_in_string(text: str) -> set[str]:
    if len(text) > 200:
        return set()
    return {
        part
        for part in text.replace("[", " ").replace("]", " ").replace(",", " ").replace(".", " ").split()
        if part.isidentifier()
    }
