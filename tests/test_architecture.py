"""docs/architecture.md names every module of triage/ with one line: a module added without its
line, or one removed and still listed, fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_architecture_doc_lists_every_module() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(triage(?:\.\w+)+)` \|", doc, re.MULTILINE))
    modules = {
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "triage").rglob("*.py")
        if path.name != "__init__.py"
    }
    assert sorted(modules - listed) == [], "missing from docs/architecture.md"
    assert sorted(listed - modules) == [], "listed in docs/architecture.md but gone"
