"""The responder's reading of a request: what it answers alone, and the facts it proves.

Steps only, no state of their own: `ScepResponder.receive` calls them. The
GET operations are answered from the configuration alone (RFC 8894 sections
3.5.1 and 4.2 to 4.4: GetCACaps, GetCACert, GetNextCACert); for a pkiMessage
these say which transaction a request opens, which challenge verdict and
which renewal proof (`VerifiedRenewal`, or why none) its event carries.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.enums import CACapability, FailInfo
from pyscep.errors import ScepError
from pyscep.http import (
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_CAPS,
    CONTENT_TYPE_NEXT_CA_CERT,
    HTTPResponse,
    Operation,
)
from pyscep.messages import CertificationRequest, build_ca_certificates
from pyscep.messages.caps import CAPABILITY_DIGESTS
from pyscep.policy import DistinguishedName
from pyscep.protocol.challenges import (
    ChallengeChecker,
    ChallengeVerdict,
    StaticChallenge,
    TransactionChallengeChecker,
)
from pyscep.protocol.config import ResponderConfig
from pyscep.protocol.events import Answered, Enrollment, PollRequested, VerifiedRenewal
from pyscep.protocol.profiles import CACertificatesShape
from pyscep.protocol.transactions import Transaction, TransactionState, TransactionStore

__all__ = [
    "bad_request",
    "challenge_verdict",
    "fail_info_of",
    "get_answer",
    "opened_by",
    "opening",
    "renewal_proof",
    "request_password",
]


def bad_request(reason: str) -> Answered:
    """An HTTP 400: the input is no SCEP request, or no pkiMessage anyone can answer."""
    return Answered(response=HTTPResponse(400, "text/plain", b"bad request\n"), reason=reason)


def fail_info_of(error: ScepError) -> FailInfo:
    """The failInfo a CertRep FAILURE gives for ``error``."""
    return error.fail_info if error.fail_info is not None else FailInfo.BAD_REQUEST


def _offerable(keyword: str, config: ResponderConfig) -> bool:
    """Is ``keyword`` a promise the responder's signer keeps?"""
    digest = CAPABILITY_DIGESTS.get(keyword)
    return digest is None or config.signable(digest)


def get_answer(config: ResponderConfig, operation: Operation) -> Answered | None:
    """The answer to a GET operation, from ``config`` alone; None for a PKIOperation."""
    profile = config.profile
    if operation is Operation.GET_CA_CAPS:
        caps = config.caps or profile.advertised_caps
        # A next CA is on offer: say so, or RFC 8894 clients never ask for it.
        offered = config.next_ca_certificates is not None
        if offered and CACapability.GET_NEXT_CA_CERT not in caps:
            caps = replace(caps, keywords=(*caps.keywords, "GetNextCACert"))
        if config.signer_digests is not None:
            caps = replace(caps, keywords=tuple(k for k in caps.keywords if _offerable(k, config)))
        return Answered(response=HTTPResponse(200, CONTENT_TYPE_CAPS, caps.dump()), reason="caps")
    if operation is Operation.GET_CA_CERT:
        ca, ras = config.ca_certificate, config.ra_certificates
        if config.ca_chain:
            der, content_type = build_ca_certificates(ca, ras, chain=config.ca_chain)
        elif ras or profile.ca_certificates is CACertificatesShape.DER_CA:
            der, content_type = build_ca_certificates(ca, ras)
        else:
            # The CA alone, as a certs-only SignedData (some clients want that shape).
            der, content_type = build_certs_only([ca]), CONTENT_TYPE_CA_RA_CERT
        return Answered(response=HTTPResponse(200, content_type, der), reason="CA certificates")
    if operation is Operation.GET_NEXT_CA_CERT:
        if config.next_ca_certificates is None:
            no_next = HTTPResponse(404, "text/plain", b"no next CA\n")
            return Answered(response=no_next, reason="no next CA")
        body = config.next_ca_certificates
        return Answered(
            response=HTTPResponse(200, CONTENT_TYPE_NEXT_CA_CERT, body), reason="next CA"
        )
    return None


def opening(transaction_id: str, request: CertificationRequest, signer: Certificate) -> Transaction:
    """The transaction a request opens: bound to its CSR and to the key that signed it."""
    requested, signing = request.public_key_der, signer.public_key_der
    return Transaction(
        transaction_id,
        requested,
        TransactionState.PENDING,
        request.der,
        signer_key=b"" if signing == requested else signing,
    )


def opened_by(event: Enrollment) -> Transaction:
    """The transaction as the event's requester opens (or opened) it."""
    if isinstance(event, PollRequested):
        return event.transaction
    opened = opening(event.transaction_id, event.request, event.signer_certificate)
    if event.renewal is not None:
        return replace(opened, renews=event.renewal.certificate.sha256_fingerprint)
    return opened


def request_password(checker: ChallengeChecker | None) -> bytes | None:
    """What opens a request enveloped by password only: the static challenge, if that."""
    return checker.secret.encode() if isinstance(checker, StaticChallenge) else None


def challenge_verdict(
    checker: ChallengeChecker | None, request: CertificationRequest, transaction_id: str
) -> ChallengeVerdict:
    """``checker``'s verdict on ``request``'s challengePassword (none accepted without one);
    a checker that needs the transactionID (`TransactionChallengeChecker`) gets it."""
    password = request.challenge_password
    if checker is None:
        if password is None:
            return ChallengeVerdict.absent()
        return ChallengeVerdict.refuse("this server checks no challenge password")
    if isinstance(checker, TransactionChallengeChecker):
        return checker.check_transaction(password, request, transaction_id)
    return checker.check(password, request)


def renewal_proof(
    store: TransactionStore,
    signer: Certificate,
    ours: bool,
    wanted: DistinguishedName,
    request: CertificationRequest,
    now: datetime,
) -> tuple[VerifiedRenewal | None, str | None]:
    """The proof that ``signer`` renews a certificate of ours, or why there is none.

    ``ours``: the CA's signature on ``signer`` verified. It is checked before the
    store is asked about the signer, so nothing is learnt of the store without it.
    """
    if signer.self_signed:
        return None, "signed with a self-signed certificate (a first enrollment)"
    if not ours:
        return None, f"the signer certificate {signer.subject!r} was not issued by this CA"
    if now < signer.not_valid_before:
        return None, "the signer certificate is not valid yet"
    if now > signer.not_valid_after:
        return None, f"the signer certificate expired on {signer.not_valid_after.isoformat()}"
    issued = store.find_certificate(signer.sha256_fingerprint)
    if issued is None:
        return None, "the signer certificate is not one this server issued"
    if issued.revoked:
        return None, f"the signer certificate (serial {signer.serial_number}) is revoked"
    if issued.renewed_by is not None:
        # One successor per certificate (catalog #95): a stolen old key cannot keep
        # making new certificates once its holder has renewed.
        return None, (
            f"the signer certificate (serial {signer.serial_number}) was already renewed"
            f" by transaction {issued.renewed_by}"
        )
    current = DistinguishedName.from_certificate(signer)
    if wanted != current:
        return None, (
            f"a renewal keeps its subject: the request asks for {wanted},"
            f" the certificate is for {current}"
        )
    added = sorted(set(request.subject_alt_names) - set(signer.subject_alt_names))
    if added:
        return None, f"a renewal keeps its subjectAltNames: the request adds {added}"
    return VerifiedRenewal(certificate=signer, transaction_id=issued.transaction_id), None
