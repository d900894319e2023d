"""The sandbox reads bottom-up: no import cycle among its modules, few imports from outside.

Every ``import`` counts, including the ones inside functions and under
``TYPE_CHECKING``: a cycle hidden in a lazy import is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pipeline.sandbox

ROOT = Path(pipeline.sandbox.__file__).parent
PACKAGE = "pipeline.sandbox"
#: What the sandbox may use of the rest of liveclass: the ground floor, the endpoint catalog, the codec, and
#: Table 4's messages (ERROR_MESSAGES, shared with the client).
ALLOWED_OUTSIDE = ("pipeline.core", "pipeline.api.catalog", "pipeline.api.phpserial", "pipeline.api.signing",
                   "pipeline.api.errors")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((PACKAGE, *parts))] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of every module ``name`` imports (``from m import x`` counts as ``m.x`` if that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES)
    return found


GRAPH = {name: {m for m in _imports(name, path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(GRAPH[m]):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_modules_found():
    assert {"pipeline.sandbox.errors", "pipeline.sandbox.handlers", "pipeline.sandbox.school",
            "pipeline.sandbox.server", "pipeline.sandbox.runner"} <= set(MODULES)
    assert "pipeline.sandbox.errors" in GRAPH["pipeline.sandbox.platform"]  # the parser resolves relative imports


def test_no_import_cycle():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_outside_imports_are_the_allowed_ones():
    bad = sorted(
        (name, m)
        for name, path in MODULES.items()
        for m in _imports(name, path)
        if m.split(".")[0] in ("pipeline", "assets", "warehouse")
        and not m.startswith(PACKAGE)
        and not any(m == a or m.startswith(a + ".") for a in ALLOWED_OUTSIDE)
    )
    assert not bad, bad


def test_one_home_per_fact():
    """The zone comes from pipeline.core.calendar and EVENT_TYPES from pipeline.api.catalog, never redefined."""
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                assert getattr(node.func, "id", getattr(node.func, "attr", None)) != "ZoneInfo", name
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                assert not names & {"TZ", "EVENT_TYPES"}, (name, names)
