"""The flow is one way: a module never imports a module of a higher layer; the doors (CLI,
notebooks, demo) go through the application layer; no import cycle."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "drawkit"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS: list[set[str]] = [
    {"__init__", "errors", "config", "msisdn", "redact", "synth", "store", "contract", "lazy"},
    {"eligibility"},  # pure rules on DataFrames: the cohort filters and every source use them
    {"posthog", "beacon", "offline"},  # clients, and the stand-ins for what they reach
    {"sources"},
    {"draw"},
    {"audit", "charts", "verifier"},
    {"app"},  # the use-cases
    {"reports"},  # presentation over the use-cases
    {"cli", "demo", "notebooks", "__main__"},  # the doors
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

# What a door may use: the application layer, presentation, and plumbing.
DOORS = {"cli", "demo", "notebooks", "__main__"}
DOOR_MAY_IMPORT = {"app", "reports", "charts", "cli", "demo", "errors", "config", "redact",
                   "offline", "synth", "__init__"}


def _top(module_path: Path) -> str:
    parts = module_path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _drawkit_imports(tree: ast.AST) -> set[str]:
    """Dotted drawkit modules imported anywhere in a file (absolute imports only)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] == "drawkit")
    return found


def _tops(modules: set[str]) -> set[str]:
    """The top-level drawkit modules named (``from drawkit import __version__`` is the
    package's face, ``__init__``)."""
    tops = set()
    for module in modules:
        parts = module.split(".")
        if len(parts) > 1:
            real = (PACKAGE / f"{parts[1]}.py").exists() or (PACKAGE / parts[1]).is_dir()
            tops.add(parts[1] if real else "__init__")
    return tops


def _module_targets(tree: ast.Module, modules: dict[str, Path]) -> set[str]:
    """The drawkit modules a file's top-level imports load, those under ``if
    TYPE_CHECKING:`` included (``from pkg import sub`` loads the submodule ``pkg.sub`` when
    there is one, else ``pkg``)."""
    found = set()
    body = list(tree.body)
    body += [n for node in tree.body if isinstance(node, ast.If) for n in node.body]
    for node in body:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("drawkit."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "drawkit":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {m for m in found if m in modules}


def _notebook_trees() -> list[tuple[str, ast.AST]]:
    trees = []
    for path in sorted((PACKAGE / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                trees.append((f"{path.name}[{i}]", ast.parse("".join(cell["source"]))))
    return trees


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _top(p) != "__init__" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    own = _top(path)
    assert own in RANK, f"{own} is in no layer: add it to LAYERS in {__file__}"
    for imported in _tops(_drawkit_imports(ast.parse(path.read_text(encoding="utf-8")))):
        assert imported in RANK, f"{imported} is in no layer"
        assert RANK[imported] <= RANK[own], (
            f"drawkit/{path.relative_to(PACKAGE)} (layer {own}) imports the higher layer "
            f"drawkit.{imported}"
        )
        if own == "offline":
            # The stand-ins share no logic with the code they test: drawkit.errors at most.
            assert imported in ("errors", "offline"), (
                f"drawkit/{path.relative_to(PACKAGE)} (offline) imports drawkit.{imported}: an "
                "offline stand-in may use drawkit.errors only"
            )


DOOR_MODULES = [p for p in MODULES if _top(p) in DOORS]


@pytest.mark.parametrize("path", DOOR_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_doors_go_through_the_application_layer(path: Path) -> None:
    used = _tops(_drawkit_imports(ast.parse(path.read_text(encoding="utf-8"))))
    direct = sorted(used - DOOR_MAY_IMPORT)
    assert not direct, (
        f"door drawkit/{path.relative_to(PACKAGE)} imports {', '.join(direct)} directly: "
        "go through drawkit.app (or a presentation helper in drawkit.reports)"
    )


def test_notebooks_only_call_the_application_layer_and_presentation() -> None:
    trees = _notebook_trees()
    assert trees, "no notebook found in drawkit/notebooks"
    for where, tree in trees:
        direct = sorted(_tops(_drawkit_imports(tree)) - {"app", "reports", "charts"})
        assert not direct, f"{where} imports {', '.join(direct)}: notebooks call drawkit.app"


def test_no_import_cycle_between_modules() -> None:
    """Top-level imports between drawkit modules form no cycle (imports inside functions,
    made when a command runs, do not count)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[module] = path
    graph = {}
    for module, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {t for t in _module_targets(tree, names) if t != module}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
