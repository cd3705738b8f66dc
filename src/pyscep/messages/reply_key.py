"""The reply key a requester names: pyscep's convention for post-quantum SCEP.

RFC 8894 envelopes a CertRep SUCCESS to the key that signed the request. A key
that only signs (Ed25519, ML-DSA) cannot take one, and RFC 8894 section 3.1 keys
the reply with the request's challengePassword instead. With the post-quantum
profile a requester may instead name an ML-KEM key for its reply: its request's
SignedData carries, beside the signer's certificate, a *reply certificate*:

- for an ML-KEM key (keyUsage keyEncipherment alone, RFC 9935 section 5),
- with the signer's subject as its issuer, and signed by the signer's key,
- valid now.

The CA verifies that signature (the signing key vouches for the KEM key, as the
request's own signature vouches for its content; a name proves nothing) and
envelopes the CertRep to the reply certificate with a KEMRecipientInfo (RFC 9629).
Possession of the ML-KEM key is proven as for any SCEP reply key: by opening the
reply. A request that names none is answered by its challengePassword, as before;
one that names a reply certificate it cannot have (expired, another keyUsage) is
refused, never answered another way. (SignedData certificates are not signed: a
request stripped of its reply certificate on the way is one that names none.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend, KeyPair, PrivateKey, Signer
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import LocalProtocolError, VerificationError
from pyscep.messages.ca import may_encrypt
from pyscep.messages.identity import KeyToCertify, issue_certificate
from pyscep.messages.pkimessage.values import PKIMessage
from pyscep.public_key import PublicKey

__all__ = ["REPLY_CERTIFICATE_DAYS", "named_reply_certificate", "reply_key_certificate"]

#: How long a reply certificate is valid: long enough for a request left PENDING (a
#: client names a fresh one in every poll).
REPLY_CERTIFICATE_DAYS = 30
_CLOCK_SKEW = timedelta(hours=1)


def reply_key_certificate(signer: Signer, key: PrivateKey, *, now: datetime) -> KeyPair:
    """The reply certificate for the ML-KEM ``key``, issued by ``signer`` (the certificate
    that signs the request), with the key: what opens the CertRep. It is valid from an
    hour before ``now`` (a CA whose clock is behind still takes it) for
    `REPLY_CERTIFICATE_DAYS`."""
    parameter_set = PublicKey.load(key.public_key_der).parameter_set
    if parameter_set is None or not parameter_set.is_kem:
        raise LocalProtocolError("a reply key is an ML-KEM key")
    certificate = issue_certificate(
        signer,
        KeyToCertify(key.public_key_der, signer.certificate.subject_der),
        now=now - _CLOCK_SKEW,
        days=REPLY_CERTIFICATE_DAYS,
    )
    return KeyPair(key, certificate)


def named_reply_certificate(
    message: PKIMessage, *, now: datetime, backend: CryptoBackend, algorithms: AlgorithmPolicy
) -> Certificate | None:
    """The reply certificate a verified request carries (see the module), or None when it
    names none.

    Only a certificate the signer's key signed names anything (checked first: another,
    whatever its name, is ignored). One that does but cannot be used raises: the
    requester asked for its reply that way, and is not answered another way instead
    (VerificationError: several, not valid now, a keyUsage other than keyEncipherment
    alone; UnsupportedAlgorithmError: a KEM the policy refuses).
    """
    signer = message.signer_certificate
    issued = [
        candidate
        for candidate in message.certificates
        if candidate != signer
        and candidate.public_key.parameter_set is not None
        and candidate.public_key.parameter_set.is_kem
        and is_issued_by(candidate, signer, backend=backend, algorithms=algorithms)
    ]
    if not issued:
        return None
    if len(issued) > 1:
        raise VerificationError("the request names several reply certificates")
    (named,) = issued
    if not named.not_valid_before <= now <= named.not_valid_after:
        raise VerificationError("the reply certificate is not valid now")
    if not may_encrypt(named) or named.key_usage is None:
        raise VerificationError("a reply certificate's keyUsage is keyEncipherment alone")
    algorithms.check_public_key(named.public_key)
    return named
