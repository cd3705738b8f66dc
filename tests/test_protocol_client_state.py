"""The client's state table and records, the events' shape, the package front, the docs' tables."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pyscep.protocol
from pyscep import LocalProtocolError
from pyscep.protocol import _client_state as st
from pyscep.protocol import challenges, client, events, profiles, server, transactions
from pyscep.protocol._client_state import TRANSITIONS, Call, ClientState, Outcome

ROOT = Path(__file__).resolve().parents[1]


def _load_tables_extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pyscep_tables", ROOT / "docs" / "_ext" / "pyscep_tables.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pyscep_tables", module)
    spec.loader.exec_module(module)
    return module


# --- the table --------------------------------------------------------------------------


def test_every_state_has_one_record_that_names_it() -> None:
    assert set(st.RECORDS) == set(ClientState)
    for kind, record in st.RECORDS.items():
        assert record.kind is kind


@pytest.mark.parametrize("state", list(ClientState), ids=lambda s: s.value)
def test_step_follows_the_table_and_refuses_the_rest(state: ClientState) -> None:
    for event in [*Call, *Outcome]:
        after = TRANSITIONS.get((state, event))
        if after is None:
            with pytest.raises(LocalProtocolError):
                st.step(state, event)
        else:
            assert st.step(state, event) is after


def test_every_state_is_reachable_and_every_wait_can_fail() -> None:
    reached, frontier = {ClientState.IDLE}, [ClientState.IDLE]
    while frontier:
        state = frontier.pop()
        for (before, _), after in TRANSITIONS.items():
            if before is state and after not in reached:
                reached.add(after)
                frontier.append(after)
    assert reached == set(ClientState)
    awaiting = {s for s in ClientState if s.value.startswith("await-")}
    assert {s for (s, e) in TRANSITIONS if e is Outcome.BROKEN} == awaiting
    # Calls start only from states that wait for nothing; answers come only while waiting.
    assert all(s not in awaiting for (s, e) in TRANSITIONS if isinstance(e, Call))
    assert all(s in awaiting for (s, e) in TRANSITIONS if isinstance(e, Outcome))
    # FAILED is the end: make a new client.
    assert not [e for (s, e) in TRANSITIONS if s is ClientState.FAILED]


def test_only_a_complete_known_settles_ready() -> None:
    from pyscep.messages import CACaps, build_ca_certificates, negotiate, parse_ca_certificates
    from pyscep.testing import make_identity
    from tests.support.helpers import NOW

    caps = CACaps.parse(b"POSTPKIOperation\nSHA-256\nAES\n")
    ca = make_identity("settled CA", now=NOW, ca=True).certificate
    certificates = parse_ca_certificates(build_ca_certificates(ca)[0], now=NOW)
    complete = st.Known(caps=caps, negotiated=negotiate(caps), ca=certificates)
    ready = st.settled(complete)
    assert isinstance(ready, st.Ready)
    assert (ready.caps, ready.negotiated, ready.ca) == (caps, negotiate(caps), certificates)
    # Any one part missing (or no algorithms agreed) leaves the client Idle, keeping the rest.
    for missing in ("caps", "negotiated", "ca"):
        partial = dataclasses.replace(complete, **{missing: None})
        idle = st.settled(partial)
        assert isinstance(idle, st.Idle)
        assert idle.known == partial
    assert isinstance(st.settled(st.Known()), st.Idle)
    assert isinstance(st.settled(st.Known(no_algorithms="none")), st.Idle)


# --- events: frozen, slotted, keyword-only; one acronym style --------------------------

EVENT_CLASSES = [
    value
    for name in events.__all__
    if isinstance(value := getattr(events, name), type) and dataclasses.is_dataclass(value)
]


@pytest.mark.parametrize("event", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_frozen_slotted_and_keyword_only(event: type) -> None:
    params = event.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in event.__dict__
    fields = dataclasses.fields(event)
    assert fields
    assert all(f.kw_only for f in fields)
    with pytest.raises(TypeError):
        event(*(None for _ in fields))


def test_events_spell_acronyms_in_capitals_and_old_names_still_import() -> None:
    assert not [name for name in pyscep.protocol.__all__ if re.search(r"Crl|Http", name)]
    for module, old, new in [
        (client, "CrlReceived", events.CRLReceived),
        (events, "CrlReceived", events.CRLReceived),
        (pyscep.protocol, "CrlReceived", events.CRLReceived),
        (server, "CrlRequested", events.CRLRequested),
        (pyscep.protocol, "CrlRequested", events.CRLRequested),
    ]:
        with pytest.warns(
            DeprecationWarning, match=rf"{old} is deprecated: use \S*\.{new.__name__} "
        ):
            assert getattr(module, old) is new
    with pytest.raises(AttributeError):
        client.NoSuchEvent  # noqa: B018


def test_the_package_front_exports_every_public_name_of_its_modules() -> None:
    for module in (client, server, events, profiles, transactions, challenges):
        for name in module.__all__:
            assert name in pyscep.protocol.__all__, (module.__name__, name)
            assert getattr(pyscep.protocol, name) is getattr(module, name)
    assert not [n for n in pyscep.protocol.__all__ if n.startswith("_")]


# --- the docs' tables are the code's ---------------------------------------------------


def test_the_rendered_client_table_is_the_code_table() -> None:
    tables = _load_tables_extension()
    header, rows = tables.client_rows()
    assert len(header) == 3
    by_text = {f"{c.value}()": c for c in Call} | {o.value: o for o in Outcome}
    rendered = {
        (ClientState(state.lower()), by_text[text]): ClientState(after.lower())
        for state, text, after in rows
    }
    assert len(rows) == len(rendered)  # no transition twice
    assert rendered == TRANSITIONS


def test_the_rendered_transaction_table_is_the_code_table() -> None:
    tables = _load_tables_extension()
    _, rows = tables.transaction_rows()
    rendered = {
        (transactions.Phase(phase), transactions.Act(act)): transactions.TransactionState(state)
        for phase, act, state in rows
    }
    assert len(rows) == len(rendered)
    assert rendered == transactions.TRANSITIONS


def test_the_client_page_renders_the_table_and_copies_none_of_it() -> None:
    page = (ROOT / "docs" / "client.md").read_text()
    assert "```{pyscep-state-table} client\n```" in page
    # A hand-written copy would name states in a table row.
    states = "|".join(s.value.upper() for s in ClientState)
    copied = [
        line for line in page.splitlines() if line.startswith("|") and re.search(states, line)
    ]
    assert copied == []
    assert "pyscep_tables" in (ROOT / "docs" / "conf.py").read_text()
