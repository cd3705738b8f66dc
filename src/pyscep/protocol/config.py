"""What the application configures the protocol machines with, as values.

`PollSchedule` says when a `ScepClient` polls a PENDING request (RFC 8894
section 3.3.3); `ResponderConfig` says who a `ScepResponder` is and what it
answers; `CertificateIssuer` is what the application's CA provides to sign a
certificate. (Also importable from `pyscep.protocol.client`,
`pyscep.protocol.server` and `pyscep.protocol`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.crypto import Decrypter, Signer
from pyscep.enums import FailInfo, MessageType
from pyscep.errors import LocalProtocolError
from pyscep.messages import CACaps, CertificationRequest, PKIMessage
from pyscep.protocol.challenges import ChallengeChecker
from pyscep.protocol.profiles import STRICT, InteropProfile

__all__ = ["CertificateIssuer", "PollSchedule", "ResponderConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PollSchedule:
    """When to poll a PENDING request: ``first``, then ``factor`` times longer each time
    (at most ``maximum``), giving up ``give_up_after`` the first PENDING."""

    first: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=7)

    def delay(self, attempt: int) -> timedelta:
        """How long to wait before poll number ``attempt`` (0 for the first)."""
        longest = self.maximum.total_seconds()
        try:
            seconds = self.first.total_seconds() * self.factor**attempt
        except OverflowError:  # a float can be larger than any wait
            seconds = longest
        # Capped as seconds: a timedelta that large would not exist.
        return timedelta(seconds=min(seconds, longest))


#: Message types answered by default; anything else is refused (default deny).
_ENROLLMENT = frozenset({MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.CERT_POLL})


# Slotted, but positional as well: deployments spell it ResponderConfig(ca, signer, decrypter).
@dataclass(frozen=True, slots=True)
class ResponderConfig:
    """Who the responder is and what it answers.

    ``signer`` signs CertReps and ``decrypter`` opens requests: the CA's key,
    or RA keys (``ra_certificates`` are then sent with the CA certificate).
    ``handled`` is the allowlist of message types the application decides
    on; ``next_ca_certificates`` is a ready GetNextCACert body. Without a
    ``challenge`` checker no challenge is ever accepted.
    """

    ca_certificate: Certificate
    signer: Signer
    decrypter: Decrypter
    ra_certificates: tuple[Certificate, ...] = ()
    #: The certificates above an intermediate CA, from its issuer up to the root: sent
    #: after the CA (and RA) certificates in GetCACert (RFC 8894 section 4.2.1.2).
    ca_chain: tuple[Certificate, ...] = ()
    #: The dialect spoken: capabilities, GetCACert shape, CertRep details.
    profile: InteropProfile = STRICT
    #: The capabilities advertised, if not the profile's.
    caps: CACaps | None = None
    algorithms: AlgorithmPolicy = DEFAULT_POLICY
    handled: frozenset[MessageType] = _ENROLLMENT
    challenge: ChallengeChecker | None = None
    next_ca_certificates: bytes | None = None
    #: The application's decision from a PKCSReq's or RenewalReq's signer alone, before
    #: its envelope is opened (e.g. with `pyscep.policy.decide_before_decrypting`): a
    #: (failInfo, failInfoText) refuses it there.
    before_decrypt: Callable[[PKIMessage], tuple[FailInfo, str] | None] | None = None
    #: SHA-256 fingerprints of certificates (RAs of other CAs) that may sign requests
    #: for keys other than their own; this CA's certificates may anyway.
    trusted_signers: frozenset[bytes] = frozenset()
    #: The digests ``signer`` can sign with, when its key backend says (a cloud KMS
    #: signs SHA-256 and up, say); None: any. GetCACaps offers no other, and a request
    #: with another is refused (badAlg) before it is decrypted: its CertRep could not
    #: be signed as it asks.
    signer_digests: frozenset[DigestAlgorithm] | None = None

    def __post_init__(self) -> None:
        if self.signer_digests is not None and not self.signer_digests:
            raise LocalProtocolError("signer_digests: a signer that signs no digest answers nobody")
        held = (self.ca_certificate, self.signer.certificate, self.decrypter.certificate)
        post_quantum = sorted(
            {
                c.public_key.parameter_set.title
                for c in (*held, *self.ra_certificates)
                if c.public_key.parameter_set is not None
            }
        )
        if post_quantum and not self.profile.post_quantum:
            raise LocalProtocolError(
                f"{', '.join(post_quantum)} keys are served only with the post-quantum profile"
                " (opt-in: profile=POST_QUANTUM)"
            )

    def signable(self, digest: DigestAlgorithm) -> bool:
        """Can ``signer`` sign a CertRep with ``digest``?"""
        return self.signer_digests is None or digest in self.signer_digests


class CertificateIssuer(Protocol):
    """What signs a certificate for a request: the application's CA (a file, an HSM...)."""

    def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        """A certificate for ``request``'s key."""
        ...
