"""`MessageOptions`: how a message is built, as one typed, immutable value.

Every builder takes ``options=``. A typo is a type error (``MessageOptions``
has no ``digets``), and the interop profiles of the protocol layer are values
of this type. Fields left at None take a default that depends on the message:
a request uses SHA-256 and AES-128-CBC; a CertRep mirrors the request it
answers (its digest, its cipher, and the algorithm policy it was accepted
under).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyscep.algorithms import (
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
    KeyTransport,
    SignatureScheme,
)
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend, Rng

__all__ = ["DEFAULT_OPTIONS", "MessageOptions"]


@dataclass(frozen=True, kw_only=True)
class MessageOptions:
    """How to build a pkiMessage.

    :param digest: message digest of the signature (requests: SHA-256;
        replies: the request's).
    :param cipher: content cipher of the pkcsPKIEnvelope (requests:
        AES-128-CBC; replies: the request's).
    :param key_transport: RSA key transport of the content key.
    :param scheme: signature scheme (default: PKCS#1 v1.5 for RSA keys, ECDSA
        for EC keys).
    :param algorithms: the `AlgorithmPolicy` the build must respect
        (requests: `DEFAULT_POLICY`; replies: the policy the request was
        accepted under, so a reply to a legacy request needs no restating).
    :param backend: crypto backend, by name or object (default: cryptography).
    :param rng: source of nonces, content keys, IVs and RSA padding (default:
        the backend's secure source); a fixed one rebuilds a message byte for byte.
    :param signing_time: adds a signingTime attribute (none by default).
    :param embedded_certificates: the SignedData ``certificates`` (default:
        the signer's certificate; ``()`` embeds none).
    :param absent_econtent: CertRep PENDING and FAILURE without eContent
        (default: an empty one, which OpenSSL-based clients need).
    :param rsa_digest_in_signature_oid: RSA SignerInfos name
        shaXWithRSAEncryption instead of rsaEncryption (the default, which
        strongSwan requires).
    """

    digest: DigestAlgorithm | None = None
    cipher: ContentCipher | None = None
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15
    scheme: SignatureScheme | None = None
    algorithms: AlgorithmPolicy | None = None
    backend: CryptoBackend | str | None = None
    rng: Rng | None = None
    signing_time: datetime | None = None
    embedded_certificates: tuple[Certificate, ...] | None = None
    absent_econtent: bool = False
    rsa_digest_in_signature_oid: bool = False


#: Every option at its default.
DEFAULT_OPTIONS = MessageOptions()
