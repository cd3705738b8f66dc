"""Hypothesis strategies: valid SCEP messages of every type, and mutated variants.

For people fuzzing their own SCEP servers and clients: feed ``pki_requests()``
to a server, ``cert_reps()`` to a client, ``mutated(...)`` to both. Messages
are signed and enveloped with the fixed test keys (`pyscep.testing.fixed_keys`):
requests by the test client to the test CA, replies the other way.
Requires hypothesis (``pip install 'pyscep-sansio[test]'``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from hypothesis import strategies as st

from pyscep.algorithms import ContentCipher, DigestAlgorithm
from pyscep.cms.degenerate import build_certs_only
from pyscep.enums import CACapability, FailInfo, MessageType, PKIStatus
from pyscep.messages.build import (
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    build_request,
)
from pyscep.messages.content import IssuerAndSerial, IssuerAndSubject
from pyscep.messages.options import MessageOptions
from pyscep.messages.reply import ReplyTo
from pyscep.testing.keys import fixed_keys

__all__ = [
    "any_message",
    "ca_caps",
    "cert_reps",
    "degenerate_certs",
    "mutated",
    "pki_requests",
    "transaction_ids",
]

_PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
_REQUEST_TYPES = [m for m in MessageType if m.is_request]


def _rng(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic byte source from a hypothesis-drawn seed (shrinkable, replayable)."""
    counter = 0

    def draw(length: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < length:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:length]

    return draw


def transaction_ids() -> st.SearchStrategy[str]:
    """Any PrintableString transactionID."""
    return st.text(_PRINTABLE, min_size=1, max_size=64)


def _content(kind: MessageType) -> bytes:
    keys = fixed_keys()
    if kind.carries_csr:
        from pyscep.testing._csr import client_csr

        return client_csr()
    if kind is MessageType.CERT_POLL:
        subject = keys.client.subject_der
        return IssuerAndSubject(keys.ca.subject_der, subject).dump()
    return IssuerAndSerial.of(keys.client).dump()


@st.composite
def pki_requests(draw: st.DrawFn, kinds: tuple[MessageType, ...] = tuple(_REQUEST_TYPES)) -> bytes:
    """A valid request of one of ``kinds``, from the test client to the test CA."""
    keys = fixed_keys()
    kind = draw(st.sampled_from(kinds))
    built = build_request(
        kind,
        _content(kind),
        signer=keys.client_signer,
        recipient=keys.ca,
        transaction_id=draw(transaction_ids()),
        options=MessageOptions(
            digest=draw(st.sampled_from([d for d in DigestAlgorithm if not d.is_legacy])),
            cipher=draw(st.sampled_from([c for c in ContentCipher if not c.is_legacy])),
            rng=_rng(draw(st.binary(min_size=8, max_size=8))),
        ),
    )
    return built.der


@st.composite
def cert_reps(draw: st.DrawFn, statuses: tuple[PKIStatus, ...] = tuple(PKIStatus)) -> bytes:
    """A valid CertRep (SUCCESS, FAILURE or PENDING) from the test CA to the test client."""
    keys = fixed_keys()
    reply = ReplyTo(
        transaction_id=draw(transaction_ids()),
        sender_nonce=draw(st.binary(min_size=16, max_size=16)),
        recipient=keys.client,
        digest=draw(st.sampled_from([d for d in DigestAlgorithm if not d.is_legacy])),
        cipher=draw(st.sampled_from([c for c in ContentCipher if not c.is_legacy])),
    )
    options = MessageOptions(rng=_rng(draw(st.binary(min_size=8, max_size=8))))
    status = draw(st.sampled_from(statuses))
    if status is PKIStatus.SUCCESS:
        return build_cert_rep_success(reply, [keys.client], signer=keys.ca_signer, options=options)
    if status is PKIStatus.PENDING:
        return build_cert_rep_pending(reply, signer=keys.ca_signer, options=options)
    return build_cert_rep_failure(
        reply,
        draw(st.sampled_from(FailInfo)),
        draw(st.none() | st.text(max_size=40)),
        signer=keys.ca_signer,
        options=options,
    )


def degenerate_certs() -> st.SearchStrategy[bytes]:
    """Certs-only SignedData with some of the test certificates."""
    keys = fixed_keys()
    return st.lists(st.sampled_from([keys.ca, keys.client]), max_size=3).map(build_certs_only)


def ca_caps() -> st.SearchStrategy[bytes]:
    """GetCACaps bodies: known and unknown keywords, any case, LF or CRLF."""
    keyword = st.sampled_from([c.value for c in CACapability]) | st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ-", min_size=1, max_size=12
    )
    cased = st.tuples(keyword, st.sampled_from(["lower", "upper", "as is"])).map(
        lambda pair: (
            pair[0].lower()
            if pair[1] == "lower"
            else pair[0].upper()
            if pair[1] == "upper"
            else pair[0]
        )
    )
    return st.builds(
        lambda words, crlf, trailing: (
            ("\r\n" if crlf else "\n").join(words)
            + (("\r\n" if crlf else "\n") if trailing else "")
        ).encode("ascii"),
        st.lists(cased, max_size=10),
        st.booleans(),
        st.booleans(),
    )


def any_message() -> st.SearchStrategy[bytes]:
    """Any valid payload: requests, CertReps, certs-only, caps."""
    return st.one_of(pki_requests(), cert_reps(), degenerate_certs(), ca_caps())


@st.composite
def mutated(draw: st.DrawFn, messages: st.SearchStrategy[bytes] | None = None) -> bytes:
    """A valid message with a few bytes flipped, inserted, deleted or duplicated."""
    data = bytearray(draw(messages if messages is not None else any_message()))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(
            st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "truncate"])
        )
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set":
            data[position] = draw(st.sampled_from([0x00, 0x80, 0xFF, 0x30, 0x84]))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif operation == "duplicate":
            end = min(len(data), position + draw(st.integers(1, 64)))
            data[position:position] = data[position:end]
        else:
            del data[position:]
    return bytes(data)
