"""The house rules of docs/architecture.md, checked on the source: who may import whom, no import
circle anywhere, and one reader of the environment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("pipeline", "assets", "warehouse")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the liveclass modules it imports (anywhere in the file, lazy imports included)."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    found.add(t)
        graph[name] = found
    return graph


GRAPH = _imports()


def _importers(prefix: str, target: str) -> list[tuple[str, str]]:
    return [(m, t) for m, ts in GRAPH.items() if m.startswith(prefix) for t in ts if t.startswith(target)]


def test_core_is_the_ground_floor():
    assert not [(m, t) for m, ts in GRAPH.items() if m.startswith("pipeline.core") for t in ts
                if not t.startswith("pipeline.core")]
    for path in (ROOT / "pipeline" / "core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(dagster|requests|urllib3)\b", text, re.M), path


def test_api_imports_only_core():
    assert not [(m, t) for m, ts in GRAPH.items() if m.startswith("pipeline.api") for t in ts
                if not t.startswith(("pipeline.api", "pipeline.core"))]


def test_storage_imports_only_core():
    assert not [(m, t) for m, ts in GRAPH.items() if m.startswith("pipeline.storage") for t in ts
                if not t.startswith(("pipeline.storage", "pipeline.core"))]
    for path in (ROOT / "pipeline" / "storage").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+dagster\b", path.read_text(encoding="utf-8"), re.M), path


def test_asset_layers_import_only_forward():
    order = ["assets.raw", "assets.lake", "assets.warehouse", "assets.publish"]
    for i, layer in enumerate(order):
        for later in order[i + 1:]:
            assert not _importers(layer, later), (layer, later)
    assert not _importers("assets", "pipeline.definitions") and not _importers("assets", "pipeline.run")


def test_only_the_assembly_imports_assets():
    outside = [(m, t) for m, ts in GRAPH.items() if m.startswith(("pipeline", "warehouse")) for t in ts
               if t.startswith("assets")]
    assert {m for m, _ in outside} <= {"pipeline.definitions", "pipeline.run", "pipeline.cli"}, outside


def test_no_import_circle_anywhere():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if t == m.rpartition(".")[0] or m.startswith(t + "."):
                continue  # a module and its own package's __init__ is not a circle of modules
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_only_settings_reads_liveclass_variables():
    pattern = re.compile(r"(os\.environ|os\.getenv|getenv\(|EnvVar\()[^\n]*LIVECLASS_|environ\[")
    offenders = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                 if p.name != "settings.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
