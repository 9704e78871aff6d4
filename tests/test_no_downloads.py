"""Nothing loads weights from a hub at run time: every ``from_pretrained`` in the tree reads local files only."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "seqmask").rglob("*.py"), *(REPO / "flows").rglob("*.py")])


def _from_pretrained_calls(path: Path) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained"
    ]


def _local_only(call: ast.Call) -> bool:
    return any(
        k.arg == "local_files_only" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


def test_every_from_pretrained_call_reads_local_files_only():
    calls = [(path, call) for path in SOURCES for call in _from_pretrained_calls(path)]
    assert calls, "no from_pretrained call found: the scan is looking in the wrong place"
    online = [f"{path.relative_to(REPO)}:{call.lineno}" for path, call in calls if not _local_only(call)]
    assert online == [], f"from_pretrained without local_files_only=True (may download at run time): {online}"
