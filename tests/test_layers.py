"""The flow is one way: a module never imports a module of a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "drawkit"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS: list[set[str]] = [
    {"errors", "config", "msisdn", "redact", "synth", "store", "contract"},
    {"eligibility"},  # pure rules on DataFrames: the cohort filters and every source use them
    {"posthog", "emulator"},
    {"cohorts"},
    {"sources"},
    {"draw"},
    {"audit", "publish", "charts", "verifier"},
    {"reports"},
    {"cli", "__main__", "__init__", "reliability"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module_path: Path) -> str:
    parts = module_path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "drawkit" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _top(p) != "__init__" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    own = _top(path)
    assert own in RANK, f"{own} is in no layer: add it to LAYERS in {__file__}"
    # The emulator is a stand-alone server: it must not use the client it stands in for.
    for imported in _imported_tops(path):
        assert imported in RANK, f"{imported} is in no layer"
        assert RANK[imported] <= RANK[own], (
            f"drawkit/{path.relative_to(PACKAGE)} (layer {own}) imports the higher layer "
            f"drawkit.{imported}"
        )
        if own == "emulator":
            assert imported != "posthog", "the emulator must not import the client it emulates"
