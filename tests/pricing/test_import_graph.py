"""pricing's import graph: every module imports on its own in a fresh interpreter, and no two
modules import each other, directly or round a longer loop (issue 26: `network_newton` and
`_gn_step` did). Both checks are run on a small package made to break them, so they can fail."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (under `root`) by dotted name, packages by their own name."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _import_time_statements(body: list[ast.AST]):
    """The import statements that run when the module is imported, or that a type checker reads
    (`if TYPE_CHECKING:` blocks count: a loop there is still two modules that need each other).
    Function bodies are left out: an import there runs at call time, after every module loaded."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # if / try / with / class bodies run at import time: look inside them
            yield from _import_time_statements([c for c in ast.iter_child_nodes(node)
                                                if isinstance(c, (ast.stmt, ast.excepthandler))])


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of `mods` it imports (`from . import x` names the submodule x when
    there is one, else the package)."""
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in _import_time_statements(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package.split(".")
                if node.level:
                    base = base[:len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in mods else stem for a in node.names]
            edges |= {t for t in targets if t in mods and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of `graph` as [a, b, ..., a], or None when there is none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (loop := visit(nxt)):
                return loop
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (loop := visit(node)):
            return loop
    return None


_FRESH = """
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m.split(".")[0] in PREFIXES]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def import_each_first(root: Path, names: list[str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """Import each module of `names` in one fresh interpreter, each as the first of `prefixes`'
    modules to load (the others are dropped from sys.modules before it); the failures by name."""
    script = f"PREFIXES = {prefixes!r}\n" + _FRESH
    out = subprocess.run([sys.executable, "-c", script, json.dumps(names)], cwd=root, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _toy(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    return modules(tmp_path, "toy")


def test_no_pricing_module_imports_itself_round_a_loop():
    graph = import_graph(modules(ROOT, "pricing"))
    assert "pricing.methods.network_newton.compiled" in graph  # the walk sees the subpackages
    assert "pricing.methods.network_newton.rows" in graph["pricing.methods.network_newton.compiled"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_every_pricing_module_imports_first_in_a_fresh_interpreter():
    names = sorted(modules(ROOT, "pricing")) + sorted(modules(ROOT, "common"))
    assert len(names) > 30
    assert import_each_first(ROOT, names, ("pricing", "common")) == {}


def test_the_cycle_check_finds_a_loop_through_a_type_checking_import(tmp_path):
    """A loop that only a type checker follows is found; an import inside a function is not one."""
    mods = _toy(tmp_path, {
        "toy/__init__.py": "",
        "toy/sub/__init__.py": "from .a import A\n",
        "toy/sub/a.py": "from . import b\nA = 1\n",
        "toy/sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n",
        "toy/c.py": "def late():\n    from .sub import a\n",
        "toy/d.py": "from .sub.b import *\nfrom . import c\n",
    })
    graph = import_graph(mods)
    assert graph["toy.sub.a"] == {"toy.sub.b"} and graph["toy.c"] == set()
    assert graph["toy.d"] == {"toy.sub.b", "toy.c"}
    loop = find_cycle(graph)
    assert loop is not None and loop[0] == loop[-1] and sorted(loop[1:]) == ["toy.sub.a", "toy.sub.b"]
    (tmp_path / "toy/sub/b.py").write_text("X = 1\n")
    assert find_cycle(import_graph(modules(tmp_path, "toy"))) is None


def test_the_fresh_import_check_reports_a_module_that_cannot_import_first(tmp_path):
    _toy(tmp_path, {
        "toy/__init__.py": "",
        "toy/a.py": "from .b import B\nA = 1\n",
        "toy/b.py": "from .a import A\nB = 2\n",
        "toy/ok.py": "OK = 1\n",
    })
    failed = import_each_first(tmp_path, ["toy.a", "toy.b", "toy.ok"], ("toy",))
    assert set(failed) == {"toy.a", "toy.b"}
    assert all(msg.startswith("ImportError") and "partially initialized" in msg for msg in failed.values())


@pytest.mark.parametrize("switch", ['"restrict"', '"compiled"'])
def test_no_test_switch_is_left_in_a_spec_cache(switch):
    """Reference paths are chosen by explicit parameters (`NetworkNewton(compiled=False)`), not by
    keys a test flips in `Spec.cache`."""
    hits = [str(p.relative_to(ROOT)) for p in modules(ROOT, "pricing").values() if switch in p.read_text()]
    assert hits == []
