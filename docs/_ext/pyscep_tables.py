"""A Sphinx directive that renders pyscep's state tables from the code's own tables.

    ```{pyscep-state-table} client
    ```

renders the client's (state, call or answer) -> state table
(``pyscep.protocol._client_state.TRANSITIONS``); ``transactions`` renders the
server's transaction lifecycle (``pyscep.protocol.transactions.TRANSITIONS``).
The pages hold no copy, so they cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from pyscep.protocol import _client_state, transactions

Row = tuple[str, str, str]


def client_rows() -> tuple[Row, list[Row]]:
    """The client's table: header, then one row per transition, in the code's order."""
    rows = [
        (state.value.upper(), _input_text(event), after.value.upper())
        for (state, event), after in _client_state.TRANSITIONS.items()
    ]
    return ("state", "call or answer", "then"), rows


def transaction_rows() -> tuple[Row, list[Row]]:
    """The server's transaction lifecycle: header, then one row per (phase, act)."""
    rows = [
        (phase.value, act.value, state.value)
        for (phase, act), state in transactions.TRANSITIONS.items()
    ]
    return ("transaction is", "act", "then"), rows


TABLES = {"client": client_rows, "transactions": transaction_rows}


def _input_text(event: _client_state.Call | _client_state.Outcome) -> str:
    if isinstance(event, _client_state.Call):
        return f"{event.value}()"
    return event.value


def _row(cells: Row, *, header: bool = False) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        paragraph = nodes.paragraph()
        paragraph += (
            nodes.literal(text=text) if text.endswith("()") and not header else nodes.Text(text)
        )
        entry += paragraph
        row += entry
    return row


class StateTable(SphinxDirective):
    """One of `TABLES`, as a table."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        which = self.arguments[0]
        if which not in TABLES:
            raise self.error(f"pyscep-state-table: no table {which!r} (one of {sorted(TABLES)})")
        header, rows = TABLES[which]()
        table = nodes.table(classes=[f"pyscep-{which}-table"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for _ in header:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        head += _row(header, header=True)
        group += head
        body = nodes.tbody()
        for cells in rows:
            body += _row(cells)
        group += body
        return [table]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("pyscep-state-table", StateTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
