"""The client's requests: the pkiMessages a `ScepClient` call sends, built from its state.

Steps only, no state of their own: `ScepClient` checks that a call fits its
state (`pyscep.protocol._client_state`), these build what the call sends
(RFC 8894 sections 3.3.1 to 3.3.4: PKCSReq, RenewalReq, CertPoll, GetCert and
GetCRL), and refuse, before anything is sent, what the CA could not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import signature_only
from pyscep.crypto import KeyPair, PrivateKey
from pyscep.enums import MessageType
from pyscep.errors import LocalProtocolError, UnsupportedAlgorithmError
from pyscep.http import HTTPRequest, Operation, client_request
from pyscep.messages import (
    BuiltRequest,
    CertificationRequest,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageOptions,
    build_cert_poll,
    build_pkcs_req,
    build_request,
    self_signed_signer,
    transaction_id_for_key,
)
from pyscep.protocol import _client_state as st
from pyscep.protocol.profiles import InteropProfile

__all__ = [
    "cert_poll",
    "check_reply_algorithms",
    "enrollment",
    "http_request",
    "message_options",
    "query",
    "reply_password",
    "resumed",
]


def message_options(
    ready: st.Ready,
    algorithms: AlgorithmPolicy,
    signer: KeyPair | None = None,
    reply_keys: KeyPair | None = None,
) -> MessageOptions:
    """The options every request to this CA is built with: the negotiated algorithms;
    with ``reply_keys``, their certificate embedded beside the ``signer``'s."""
    chosen = ready.negotiated.options
    embedded = None
    if reply_keys is not None and signer is not None:
        embedded = (signer.certificate, reply_keys.certificate)
    return MessageOptions(
        digest=chosen.digest,
        cipher=chosen.cipher,
        algorithms=algorithms,
        embedded_certificates=embedded,
    )


def check_reply_algorithms(profile: InteropProfile, algorithms: AlgorithmPolicy) -> None:
    """Refuse when the profile says the CA answers with algorithms ``algorithms`` refuses."""
    # The CA may issue and the certificate would then be unreadable.
    try:
        if profile.reply_cipher is not None:
            algorithms.check_cipher(profile.reply_cipher)
        if profile.reply_digest is not None:
            algorithms.check_digest(profile.reply_digest)
    except UnsupportedAlgorithmError as exc:
        raise UnsupportedAlgorithmError(
            f"the {profile.name} profile says this CA answers with an algorithm"
            f" your policy refuses ({exc}); allow it before enrolling"
        ) from None


def enrollment(
    ready: st.Ready,
    kind: MessageType,
    request: CertificationRequest,
    keys: KeyPair,
    *,
    profile: InteropProfile,
    algorithms: AlgorithmPolicy,
    reply_keys: KeyPair | None = None,
) -> st.Enrolling:
    """A PKCSReq or RenewalReq (``kind``) for ``request``, signed with ``keys``; naming
    the ML-KEM ``reply_keys`` when given (`pyscep.messages.reply_key`)."""
    family = keys.certificate.public_key_algorithm
    if family not in profile.requester_keys:
        # The CertRep goes to this key: refuse before the CA issues a certificate
        # that could not be delivered.
        raise UnsupportedAlgorithmError(
            f"the {profile.name} profile says this CA answers "
            f"{', '.join(sorted(profile.requester_keys))} keys only, not {family}"
        )
    password = reply_password(keys.certificate, request, named=reply_keys is not None)
    built = build_pkcs_req(
        request,
        signer=keys,
        recipient=ready.ca.encryption,
        message_type=kind,
        transaction_id=transaction_id_for_key(request.public_key_der),
        options=message_options(ready, algorithms, keys, reply_keys),
        # With a named reply key the request needs no password recipient of its own.
        password=None if reply_keys is not None else password,
    )
    return st.Enrolling(
        built=built,
        keys=keys,
        requested_key=request.public_key_der,
        poll=IssuerAndSubject(ready.ca.ca.subject_der, request.subject_der),
        password=password,
        reply_keys=reply_keys,
    )


def query(
    ready: st.Ready,
    kind: MessageType,
    wanted: IssuerAndSerial,
    keys: KeyPair,
    *,
    algorithms: AlgorithmPolicy,
) -> st.Querying:
    """A GetCert or GetCRL (``kind``) for what ``wanted`` names, signed with ``keys``."""
    built = build_request(
        kind,
        wanted.dump(),
        signer=keys,
        recipient=ready.ca.encryption,
        transaction_id=transaction_id_for_key(keys.certificate.public_key_der + wanted.dump()),
        options=message_options(ready, algorithms),
    )
    return st.Querying(built=built, keys=keys)


def cert_poll(
    ready: st.Ready,
    poll: IssuerAndSubject,
    keys: KeyPair,
    transaction_id: str,
    *,
    algorithms: AlgorithmPolicy,
    reply_keys: KeyPair | None = None,
) -> BuiltRequest:
    """A CertPoll of ``transaction_id`` (fresh nonces each time), naming ``reply_keys``."""
    return build_cert_poll(
        poll,
        signer=keys,
        recipient=ready.ca.encryption,
        transaction_id=transaction_id,
        options=message_options(ready, algorithms, keys, reply_keys),
    )


def resumed(
    ready: st.Ready,
    request: CertificationRequest,
    key: PrivateKey,
    transaction_id: str,
    *,
    algorithms: AlgorithmPolicy,
    now: datetime,
    name_reply_key: Callable[[KeyPair], KeyPair | None] = lambda keys: None,
) -> st.Enrolling:
    """The enrollment of ``transaction_id`` a previous process left PENDING; its polls
    name the reply key ``name_reply_key`` makes for the signer, if any."""
    keys = self_signed_signer(key, request.subject_der, now=now)
    reply_keys = name_reply_key(keys)
    poll = IssuerAndSubject(ready.ca.ca.subject_der, request.subject_der)
    # What the enrollment would have sent last: a CertPoll of that transaction
    # (`poll` sends a fresh one; a request carries its IDs in its own bytes).
    last = cert_poll(
        ready, poll, keys, transaction_id, algorithms=algorithms, reply_keys=reply_keys
    )
    return st.Enrolling(
        built=last,
        keys=keys,
        requested_key=request.public_key_der,
        poll=poll,
        password=reply_password(keys.certificate, request, named=reply_keys is not None),
        reply_keys=reply_keys,
    )


def http_request(
    path: str, ready: st.Ready, exchange: st.Exchange, profile: InteropProfile
) -> HTTPRequest:
    """The PKIOperation carrying ``exchange``: POST or GET as the profile or the CA says."""
    use_post = profile.use_post
    if use_post is None:
        use_post = ready.negotiated.use_post
    return client_request(
        Operation.PKI_OPERATION, path=path, message=exchange.built.der, use_post=use_post
    )


def reply_password(
    signer: Certificate, request: CertificationRequest, *, named: bool = False
) -> bytes | None:
    """The password a CertRep to ``signer`` will be keyed with, when its key only signs.

    With a reply key ``named`` the CertRep goes to it, and the password (if the CSR has
    one) only opens a reply from a CA that answered without it."""
    if not signature_only(signer):
        return None
    if request.challenge_password is None:
        if named:
            return None
        raise LocalProtocolError(
            "a key that only signs (Ed25519, ML-DSA) needs a challengePassword in its CSR,"
            " or a reply key: the CA envelopes the CertRep with it (RFC 8894 section 3.1)"
        )
    return request.challenge_password.encode()
