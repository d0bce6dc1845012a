"""No module in services/ or shared/ over ~300 lines without a reason.

A longer module is split along its real jobs, or says in its docstring why it
is one piece, on a line starting ``Long because:`` (a catalogue, a table of
declarations).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 300
REASON = "Long because:"


def long_modules() -> dict[str, int]:
    found = {}
    for package in ("services", "shared"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LIMIT:
                found[path.relative_to(ROOT).as_posix()] = lines
    return found


def has_reason(path: str) -> bool:
    docstring = ast.get_docstring(ast.parse((ROOT / path).read_text(encoding="utf-8"))) or ""
    return any(line.strip().startswith(REASON) for line in docstring.splitlines())


def test_every_long_module_is_split_or_says_why():
    unexplained = {path: lines for path, lines in long_modules().items() if not has_reason(path)}
    assert not unexplained, (
        f"modules over {LIMIT} lines: split them along their jobs, or add a docstring line "
        f"'{REASON} ...':\n" + "\n".join(f"  {path}: {lines} lines" for path, lines in unexplained.items())
    )


def test_the_check_reads_reason_lines():
    assert has_reason("services/console/messages_es.py")
    assert not has_reason("shared/leases.py")
