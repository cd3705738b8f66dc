"""The conformance reports of the real peers, published in docs/interop.md by the tests."""

from __future__ import annotations

import os
from pathlib import Path

from pyscep.conformance import Scorecard

INTEROP = Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def published(name: str, scorecard: Scorecard) -> None:
    """docs/interop.md shows ``name``'s report as scored now (PYSCEP_UPDATE_REPORTS=1
    rewrites it there)."""
    begin, end = f"<!-- conformance report: {name} -->", f"<!-- end of the {name} report -->"
    page = INTEROP.read_text()
    before, rest = page.split(begin, 1)
    after = rest.split(end, 1)[1]
    fresh = f"{before}{begin}\n\n{scorecard.to_markdown()}\n\n{end}{after}"
    if os.environ.get("PYSCEP_UPDATE_REPORTS"):
        INTEROP.write_text(fresh)
    assert page == fresh, f"{name} now scores differently: PYSCEP_UPDATE_REPORTS=1 rewrites it"
