"""A SCEP client on pyscep's message layer that skips exactly one check of a reply.

`naive_client(flaw)` is a `ClientRunner` for `pyscep.conformance.check_client`:
it enrolls in this process (over HTTP, against the scripted server's URL)
the way `ScepClient` does, every check of the CertRep and of the issued
certificate made (and of the rollover CA, when the server advertises
GetNextCACert), except the one ``flaw`` names. Its "exit status" is 0 when
it took the certificate, 1 when it refused, 3 on PENDING.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from pathlib import Path

from pyscep._appkit.http import http_exchange
from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly, parse_certs_only
from pyscep.conformance.client import ClientRunner
from pyscep.conformance.probe import Probe
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import CACapability, PKIStatus
from pyscep.errors import ScepError
from pyscep.http import Operation, client_request
from pyscep.messages import (
    CACaps,
    CACertificates,
    build_csr,
    build_pkcs_req,
    decrypt_pki_message,
    parse_ca_certificates,
    parse_next_ca_certificates,
    parse_pki_message,
    self_signed_signer,
    verify_cert_rep,
)

__all__ = ["ClientFlaw", "naive_client"]


class ClientFlaw(enum.Enum):
    """The one check a naive client skips."""

    TRUSTS_EMBEDDED_SIGNER = enum.auto()
    IGNORES_RECIPIENT_NONCE = enum.auto()
    IGNORES_TRANSACTION_ID = enum.auto()
    TAKES_ANY_KEY = enum.auto()
    TAKES_ANY_SUBJECT = enum.auto()
    TAKES_ANY_ISSUER = enum.auto()
    ACCEPTS_DES = enum.auto()
    PENDING_IS_SUCCESS = enum.auto()
    ANY_200_IS_SUCCESS = enum.auto()
    TRUSTS_UNSIGNED_ROLLOVER = enum.auto()


def naive_client(flaw: ClientFlaw | None, *, asks_next_ca: bool = True) -> ClientRunner:
    """The client with ``flaw`` (None: every check made). It fetches the rollover CA
    (GetNextCACert) when the server advertises it, unless ``asks_next_ca`` is False."""

    def run(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
        try:
            return _enroll(url, challenge, directory, flaw, asks_next_ca=asks_next_ca)
        except ScepError as exc:
            return 1, f"refused: {exc}"

    return run


def _issuers(url: str, ca: CACertificates, flaw: ClientFlaw | None) -> list[Certificate]:
    """The CA, and the rollover CA of GetNextCACert (verified unless ``flaw`` says not)."""
    _, _, body = http_exchange(url, client_request(Operation.GET_NEXT_CA_CERT))
    if flaw is ClientFlaw.TRUSTS_UNSIGNED_ROLLOVER:
        return [ca.ca, *parse_certs_only(body).certificates]
    return [ca.ca, *parse_next_ca_certificates(body, ca)]


def _enroll(
    url: str, challenge: str, directory: Path, flaw: ClientFlaw | None, *, asks_next_ca: bool
) -> tuple[int, str]:
    now = datetime.now(timezone.utc)
    _, _, body = http_exchange(url, client_request(Operation.GET_CA_CERT))
    ca = parse_ca_certificates(body, now=now)
    issuers = [ca.ca]
    if asks_next_ca:
        _, _, caps = http_exchange(url, client_request(Operation.GET_CA_CAPS))
        if CACapability.GET_NEXT_CA_CERT in CACaps.parse(caps):
            issuers = _issuers(url, ca, flaw)
    key = Probe.new_key()
    csr = build_csr(key, "CN=naive-client", challenge_password=challenge)
    signer = self_signed_signer(key, csr.subject_der, now=now)
    built = build_pkcs_req(csr, signer=signer, recipient=ca.encryption)
    request = client_request(Operation.PKI_OPERATION, message=built.der, use_post=True)
    status, _, body = http_exchange(url, request)
    if flaw is ClientFlaw.ANY_200_IS_SUCCESS and status == 200:
        return 0, "HTTP 200: taken as issued"
    reply = parse_pki_message(body)
    trusted = reply.certificates if flaw is ClientFlaw.TRUSTS_EMBEDDED_SIGNER else ca.verification
    policy = LEGACY if flaw is ClientFlaw.ACCEPTS_DES else DEFAULT_POLICY
    verified = verify_cert_rep(reply, ca_certificates=trusted, algorithms=policy)
    if (
        flaw is not ClientFlaw.IGNORES_TRANSACTION_ID
        and reply.transaction_id != built.transaction_id
    ):
        return 1, "refused: transactionID"
    if (
        flaw is not ClientFlaw.IGNORES_RECIPIENT_NONCE
        and reply.recipient_nonce != built.sender_nonce
    ):
        return 1, "refused: recipientNonce"
    if verified.pki_status is PKIStatus.PENDING:
        return (
            (0, "PENDING taken as issued")
            if flaw is ClientFlaw.PENDING_IS_SUCCESS
            else (3, "PENDING")
        )
    if verified.pki_status is not PKIStatus.SUCCESS:
        return 1, f"refused by the server: {verified.fail_info}"
    content = decrypt_pki_message(verified, signer, algorithms=policy)
    assert isinstance(content, CertsOnly)
    issued = content.certificates[0]
    if flaw is not ClientFlaw.TAKES_ANY_KEY and issued.public_key_der != csr.public_key_der:
        return 1, "refused: another key"
    if flaw is not ClientFlaw.TAKES_ANY_SUBJECT and issued.subject_der != csr.subject_der:
        return 1, "refused: another subject"
    ours = any(
        is_issued_by(issued, issuer, backend=get_backend(), algorithms=DEFAULT_POLICY)
        for issuer in issuers
    )
    if flaw is not ClientFlaw.TAKES_ANY_ISSUER and not ours:
        return 1, "refused: not issued by the CA"
    (directory / "client.der").write_bytes(issued.der)
    return 0, f"issued: {issued.subject}"
