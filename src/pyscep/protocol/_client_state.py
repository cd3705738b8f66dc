"""The client's states as records and its transitions as one table (after h11's ``_state.py``).

Each state is a frozen record holding exactly what the client has in it: a
`Ready` client *has* its capabilities, negotiated algorithms and CA
certificates; an `AwaitingReply` client has its pending exchange. `TRANSITIONS`
maps (state, input) to the next state for calls and answers alike; `step` is
the only way through it, and anything not in the table is a
`LocalProtocolError`. The documentation renders `TRANSITIONS` itself
(docs/_ext/pyscep_tables.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from pyscep.crypto import KeyPair
from pyscep.enums import MessageType
from pyscep.errors import LocalProtocolError
from pyscep.http import Operation
from pyscep.messages import (
    BuiltRequest,
    CACaps,
    CACertificates,
    IssuerAndSubject,
    Negotiated,
)

__all__ = [
    "TRANSITIONS",
    "AwaitingCA",
    "AwaitingCaps",
    "AwaitingNextCA",
    "AwaitingReply",
    "Call",
    "ClientState",
    "Enrolling",
    "Failed",
    "Idle",
    "Known",
    "Outcome",
    "Pending",
    "Polling",
    "Querying",
    "Ready",
    "State",
    "Unread",
    "step",
]


class ClientState(str, enum.Enum):
    """Where the client stands."""

    #: Capabilities or CA certificates not known yet, or no algorithms agreed.
    IDLE = "idle"
    #: Capabilities, algorithms and CA certificates known: requests can be made.
    READY = "ready"
    AWAIT_CAPS = "await-caps"
    AWAIT_CA = "await-ca"
    AWAIT_NEXT_CA = "await-next-ca"
    #: A pkiMessage is out; its CertRep is awaited.
    AWAIT_REPLY = "await-reply"
    #: The CA answered PENDING: poll when `ScepClient.next_poll_at` says.
    PENDING = "pending"
    #: A reply broke the protocol; make a new client.
    FAILED = "failed"


class Call(str, enum.Enum):
    """What the application asks of the client (the `ScepClient` method of that name)."""

    GET_CAPS = "get_caps"
    GET_CA_CERTIFICATES = "get_ca_certificates"
    GET_NEXT_CA_CERTIFICATES = "get_next_ca_certificates"
    ENROLL = "enroll"
    RENEW = "renew"
    GET_CERT = "get_cert"
    GET_CRL = "get_crl"
    POLL = "poll"
    RESUME = "resume"


class Outcome(str, enum.Enum):
    """What an answer, as `ScepClient.receive` reads it, leaves the client with."""

    #: Capabilities, agreed algorithms and CA certificates are all known now.
    COMPLETE = "answer: all known"
    #: Something is still missing (the other GetCA* answer, or algorithms both sides allow).
    INCOMPLETE = "answer: something missing"
    #: GetNextCACert answered and verified.
    NEXT_CA = "answer: next CA"
    #: A CertRep SUCCESS or FAILURE (issued, refused, unreadable, rejected).
    FINAL = "CertRep: final"
    #: A CertRep PENDING.
    PENDING = "CertRep: PENDING"
    #: A CertRep PENDING past `PollSchedule.give_up_after`: the client gives up.
    GAVE_UP = "CertRep: PENDING, given up"
    #: The answer broke the protocol.
    BROKEN = "answer breaks the protocol"


Input = Call | Outcome

_S = ClientState
#: Every transition of the client: (state, call or answer) -> state. Nothing else happens.
TRANSITIONS: dict[tuple[ClientState, Input], ClientState] = {
    (_S.IDLE, Call.GET_CAPS): _S.AWAIT_CAPS,
    (_S.IDLE, Call.GET_CA_CERTIFICATES): _S.AWAIT_CA,
    (_S.READY, Call.GET_CAPS): _S.AWAIT_CAPS,
    (_S.READY, Call.GET_CA_CERTIFICATES): _S.AWAIT_CA,
    (_S.READY, Call.GET_NEXT_CA_CERTIFICATES): _S.AWAIT_NEXT_CA,
    (_S.READY, Call.ENROLL): _S.AWAIT_REPLY,
    (_S.READY, Call.RENEW): _S.AWAIT_REPLY,
    (_S.READY, Call.GET_CERT): _S.AWAIT_REPLY,
    (_S.READY, Call.GET_CRL): _S.AWAIT_REPLY,
    (_S.READY, Call.RESUME): _S.PENDING,
    (_S.PENDING, Call.POLL): _S.AWAIT_REPLY,
    (_S.AWAIT_CAPS, Outcome.COMPLETE): _S.READY,
    (_S.AWAIT_CAPS, Outcome.INCOMPLETE): _S.IDLE,
    (_S.AWAIT_CAPS, Outcome.BROKEN): _S.FAILED,
    (_S.AWAIT_CA, Outcome.COMPLETE): _S.READY,
    (_S.AWAIT_CA, Outcome.INCOMPLETE): _S.IDLE,
    (_S.AWAIT_CA, Outcome.BROKEN): _S.FAILED,
    (_S.AWAIT_NEXT_CA, Outcome.NEXT_CA): _S.READY,
    (_S.AWAIT_NEXT_CA, Outcome.BROKEN): _S.FAILED,
    (_S.AWAIT_REPLY, Outcome.FINAL): _S.READY,
    (_S.AWAIT_REPLY, Outcome.PENDING): _S.PENDING,
    (_S.AWAIT_REPLY, Outcome.GAVE_UP): _S.READY,
    (_S.AWAIT_REPLY, Outcome.BROKEN): _S.FAILED,
}


def step(state: ClientState, event: Input) -> ClientState:
    """The state ``event`` leads to from ``state``, as `TRANSITIONS` says; else refused."""
    after = TRANSITIONS.get((state, event))
    if after is None:
        if isinstance(event, Call):
            raise LocalProtocolError(f"{event.value} is not possible in state {state.value}")
        raise LocalProtocolError(f"no request is awaiting a response ({state.value})")
    return after


# --- what the client holds -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """What the client has learnt of its CA so far (any of it may be missing)."""

    caps: CACaps | None = None
    negotiated: Negotiated | None = None
    #: Capabilities known but no algorithms both sides allow: why.
    no_algorithms: str | None = None
    ca: CACertificates | None = None


@dataclass(frozen=True, slots=True)
class Enrolling:
    """An enrollment (PKCSReq, RenewalReq, CertPoll) and what opening its CertRep needs."""

    built: BuiltRequest
    keys: KeyPair
    #: The CSR's key: the issued certificate must be for it.
    requested_key: bytes
    #: What a CertPoll names (and the subject the certificate must have).
    poll: IssuerAndSubject
    #: A key that only signs: the challengePassword that keys the CertRep (RFC 8894 3.1).
    password: bytes | None = field(default=None, repr=False)
    #: The ML-KEM reply key the requests name (`pyscep.messages.reply_key`), if any.
    reply_keys: KeyPair | None = None

    @property
    def opener(self) -> KeyPair:
        """What opens the CertRep: the named reply key, else the signer's."""
        return self.reply_keys or self.keys


@dataclass(frozen=True, slots=True)
class Querying:
    """A GetCert or GetCRL."""

    built: BuiltRequest
    keys: KeyPair

    password: ClassVar[None] = None

    @property
    def opener(self) -> KeyPair:
        """What opens the CertRep: the signer's key."""
        return self.keys

    @property
    def kind(self) -> MessageType:
        """GET_CERT or GET_CRL."""
        return self.built.message_type


Exchange = Enrolling | Querying


@dataclass(frozen=True, slots=True)
class Polling:
    """A PENDING enrollment: what to poll with, since when, how often so far."""

    enrollment: Enrolling
    since: datetime
    polls: int
    next_poll_at: datetime


@dataclass(frozen=True, slots=True)
class Unread:
    """A SUCCESS in algorithms the policy refused, kept for `ScepClient.reopen`."""

    exchange: Exchange
    ca: CACertificates
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Idle:
    """Not ready: something of the CA is still unknown (``known`` says what is)."""

    known: Known = Known()
    kind: ClassVar[ClientState] = ClientState.IDLE


@dataclass(frozen=True, slots=True)
class Ready:
    """Everything a request needs."""

    caps: CACaps
    negotiated: Negotiated
    ca: CACertificates
    kind: ClassVar[ClientState] = ClientState.READY

    @property
    def known(self) -> Known:
        """The same, as a `Known`."""
        return Known(caps=self.caps, negotiated=self.negotiated, ca=self.ca)


@dataclass(frozen=True, slots=True)
class AwaitingCaps:
    """GetCACaps is out."""

    before: Idle | Ready
    kind: ClassVar[ClientState] = ClientState.AWAIT_CAPS
    operation: ClassVar[Operation] = Operation.GET_CA_CAPS


@dataclass(frozen=True, slots=True)
class AwaitingCA:
    """GetCACert is out."""

    before: Idle | Ready
    kind: ClassVar[ClientState] = ClientState.AWAIT_CA
    operation: ClassVar[Operation] = Operation.GET_CA_CERT


@dataclass(frozen=True, slots=True)
class AwaitingNextCA:
    """GetNextCACert is out."""

    ready: Ready
    kind: ClassVar[ClientState] = ClientState.AWAIT_NEXT_CA
    operation: ClassVar[Operation] = Operation.GET_NEXT_CA_CERT


@dataclass(frozen=True, slots=True)
class AwaitingReply:
    """A pkiMessage is out (``polling``: it is a CertPoll of a PENDING enrollment)."""

    ready: Ready
    exchange: Exchange
    polling: Polling | None = None
    kind: ClassVar[ClientState] = ClientState.AWAIT_REPLY
    operation: ClassVar[Operation] = Operation.PKI_OPERATION


@dataclass(frozen=True, slots=True)
class Pending:
    """The CA answered PENDING: poll at ``polling.next_poll_at``."""

    ready: Ready
    polling: Polling
    kind: ClassVar[ClientState] = ClientState.PENDING


@dataclass(frozen=True, slots=True)
class Failed:
    """A reply broke the protocol (``reason``); what was known stays readable."""

    known: Known
    reason: str
    kind: ClassVar[ClientState] = ClientState.FAILED


State = Idle | Ready | AwaitingCaps | AwaitingCA | AwaitingNextCA | AwaitingReply | Pending | Failed
Awaiting = AwaitingCaps | AwaitingCA | AwaitingNextCA | AwaitingReply

#: The record of each state (the table's states, one class each).
RECORDS: dict[ClientState, type[State]] = {
    record.kind: record
    for record in (
        Idle,
        Ready,
        AwaitingCaps,
        AwaitingCA,
        AwaitingNextCA,
        AwaitingReply,
        Pending,
        Failed,
    )
}


def known_in(state: State) -> Known:
    """What ``state`` holds of the CA."""
    if isinstance(state, Idle | Ready | Failed):
        return state.known
    if isinstance(state, AwaitingCaps | AwaitingCA):
        return state.before.known
    return state.ready.known


def settled(known: Known) -> Idle | Ready:
    """Ready when everything a request needs is known, else Idle."""
    if known.caps is not None and known.negotiated is not None and known.ca is not None:
        return Ready(caps=known.caps, negotiated=known.negotiated, ca=known.ca)
    return Idle(known)
