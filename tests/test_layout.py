"""The codebase's shape, checked: no import cycle, one module reads the environment, small modules and functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ecomcopy"
SOURCES = sorted(PACKAGE.glob("*.py")) + [ROOT / "app.py"]
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
LONG_REASON = re.compile(r"#\s*long:")  # a one-line reason, on the def line or the line above, for a longer function


def _runtime_nodes(tree: ast.AST):
    """Every node, but those under `if TYPE_CHECKING:` (imports for type hints only, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports when it runs, at the top or inside a function."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y / from . import x
                found |= {node.module} if node.module else {a.name for a in node.names}
            elif (node.module or "").startswith("ecomcopy."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ecomcopy.")}
    return {m.split(".")[0] for m in found if (PACKAGE / f"{m.split('.')[0]}.py").is_file()}


def test_no_import_cycle():
    graph = {p.stem: _imports(p) - {p.stem} for p in PACKAGE.glob("*.py")}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph[module]):
            assert state.get(dep) != "open", "import cycle: " + " -> ".join(path + [module, dep])
            if dep not in state:
                visit(dep, path + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert graph["pipeline"] and "sampler" in graph["pipeline"]  # the graph is read, not empty


def test_only_config_reads_the_environment():
    readers = [p.relative_to(ROOT) for p in SOURCES if p.name != "config.py" and re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text())]
    assert readers == []


def test_modules_and_functions_are_small():
    too_long = []
    for path in SOURCES:
        lines = path.read_text().splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                reason = any(LONG_REASON.search(lines[i - 1]) for i in (first - 1, node.lineno) if i >= 1)
                if size > MAX_FUNCTION_LINES and not reason:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {size} lines")
    assert too_long == []


def test_the_package_is_installed_with_its_command():
    """`make install` installs the package (editable) and its `ecomcopy` console command."""
    import importlib.metadata
    import shutil

    scripts = {e.name: e.value for e in importlib.metadata.distribution("ecomcopy").entry_points if e.group == "console_scripts"}
    assert scripts == {"ecomcopy": "ecomcopy.__main__:main"} and shutil.which("ecomcopy")


GIT_FILE_LIMIT = 20 * 1024 * 1024  # the largest file the team's git host accepts


def test_shipped_weights_fit_in_git():
    """A writer ships as a git file or not at all: a cache folder does not survive a fresh machine."""
    weights = sorted((ROOT / "assets").rglob("*.safetensors")) + sorted((ROOT / "docs").rglob("*.safetensors"))
    assert weights, "no shipped adapter found"
    too_big = [f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes" for p in weights if p.stat().st_size >= GIT_FILE_LIMIT]
    assert too_big == []
