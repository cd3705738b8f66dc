"""The reply key a requester names: pyscep's convention for post-quantum SCEP.

RFC 8894 envelopes a CertRep SUCCESS to the key that signed the request. A key
that only signs (Ed25519, ML-DSA) cannot take one, and RFC 8894 section 3.1 keys
the reply with the request's challengePassword instead. With the post-quantum
profile a requester may instead name an ML-KEM key for its reply: its request's
SignedData carries, beside the signer's certificate, a *reply certificate*:

- for an ML-KEM key (keyUsage keyEncipherment, RFC 9935 section 5),
- with the signer's subject as its issuer, and signed by the signer's key,
- valid now.

The CA verifies that signature (the signing key vouches for the KEM key, as the
request's own signature vouches for its content; a name proves nothing) and
envelopes the CertRep to the reply certificate with a KEMRecipientInfo (RFC 9629).
Possession of the ML-KEM key is proven as for any SCEP reply key: by opening the
reply. A request that names none is answered by its challengePassword, as before.
"""

from __future__ import annotations

from datetime import datetime

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend, KeyPair, PrivateKey, Signer
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import LocalProtocolError
from pyscep.messages.identity import KeyToCertify, issue_certificate
from pyscep.messages.pkimessage.values import PKIMessage
from pyscep.public_key import PublicKey

__all__ = ["REPLY_CERTIFICATE_DAYS", "named_reply_certificate", "reply_key_certificate"]

#: How long a reply certificate is valid: long enough for a request left PENDING.
REPLY_CERTIFICATE_DAYS = 30


def reply_key_certificate(signer: Signer, key: PrivateKey, *, now: datetime) -> KeyPair:
    """The reply certificate for the ML-KEM ``key``, issued by ``signer`` (the certificate
    that signs the request), with the key: what opens the CertRep."""
    parameter_set = PublicKey.load(key.public_key_der).parameter_set
    if parameter_set is None or not parameter_set.is_kem:
        raise LocalProtocolError("a reply key is an ML-KEM key")
    certificate = issue_certificate(
        signer,
        KeyToCertify(key.public_key_der, signer.certificate.subject_der),
        now=now,
        days=REPLY_CERTIFICATE_DAYS,
    )
    return KeyPair(key, certificate)


def named_reply_certificate(
    message: PKIMessage, *, now: datetime, backend: CryptoBackend, algorithms: AlgorithmPolicy
) -> Certificate | None:
    """The reply certificate a verified request carries (see the module), or None."""
    signer = message.signer_certificate
    for candidate in message.certificates:
        key = candidate.public_key
        if candidate == signer or key.parameter_set is None or not key.parameter_set.is_kem:
            continue
        usage = candidate.key_usage
        if usage is not None and "key_encipherment" not in usage:
            continue
        if not candidate.not_valid_before <= now <= candidate.not_valid_after:
            continue
        if key.algorithm not in algorithms.post_quantum:
            continue
        if is_issued_by(candidate, signer, backend=backend, algorithms=algorithms):
            return candidate
    return None
