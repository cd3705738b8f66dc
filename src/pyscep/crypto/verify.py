"""Every signature check, behind the one algorithm policy.

CMS SignerInfos, certificates and PKCS#10 requests all end here. Before the
backend sees anything, the key is checked against the policy whatever its
OID spelling (size, curve, exponent), the scheme must fit the key, and
RSASSA-PSS parameters must be ones a signer can have produced: the backend
is never handed a value it would refuse with an exception of its own.
"""

from __future__ import annotations

from pyscep._boundary import DEPENDENCY_ERRORS
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm, SignatureScheme
from pyscep.errors import UnsupportedAlgorithmError, VerificationError
from pyscep.public_key import PublicKey

from . import CryptoBackend

__all__ = ["check_pss_parameters", "verify_signature"]

_FAMILY_SCHEMES = {
    "rsa": (SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS),
    "ec": (SignatureScheme.ECDSA,),
    "ed25519": (SignatureScheme.ED25519,),
    "ml_dsa_44": (SignatureScheme.ML_DSA_44,),
    "ml_dsa_65": (SignatureScheme.ML_DSA_65,),
    "ml_dsa_87": (SignatureScheme.ML_DSA_87,),
}


def check_pss_parameters(
    digest: DigestAlgorithm, hash_name: str, mgf1_hash_name: str, trailer_field: int = 1
) -> None:
    """RSASSA-PSS parameters pyscep verifies: MGF1 and message hash both ``digest``.

    The salt length is checked against the key in `verify_signature`.
    """
    if hash_name != digest.value or mgf1_hash_name != digest.value:
        raise UnsupportedAlgorithmError("RSASSA-PSS hashes disagree with the digest algorithm")
    if trailer_field != 1:
        raise UnsupportedAlgorithmError("RSASSA-PSS trailer field other than 1")


def verify_signature(
    backend: CryptoBackend,
    public_key: PublicKey | bytes,
    signature: bytes,
    data: bytes,
    *,
    digest: DigestAlgorithm,
    scheme: SignatureScheme,
    algorithms: AlgorithmPolicy,
    pss_salt_length: int | None = None,
) -> None:
    """Raise unless ``signature`` over ``data`` verifies under ``algorithms``.

    ``public_key`` is the key as its holder read it (`Certificate.public_key`,
    `CertificationRequest.public_key`: read once, however many checks use it), or
    DER SubjectPublicKeyInfo, read here (ParseError when it is not one).

    UnsupportedAlgorithmError (badAlg) for a key, digest, scheme or parameter
    the policy refuses; VerificationError for a signature that does not
    verify; ParseError for DER that is no key.
    """
    if isinstance(public_key, bytes):
        public_key = PublicKey.load(public_key)
    key = algorithms.check_public_key(public_key)
    algorithms.check_digest(digest)
    if scheme not in _FAMILY_SCHEMES.get(key.family, ()):
        raise UnsupportedAlgorithmError(f"{scheme.value} does not fit a {key.algorithm} key")
    if key.pss_only and scheme is not SignatureScheme.RSA_PSS:
        raise UnsupportedAlgorithmError("an id-RSASSA-PSS key signs with RSASSA-PSS only")
    if scheme is SignatureScheme.RSA_PSS:
        salt = digest.digest_size if pss_salt_length is None else pss_salt_length
        # RFC 8017 9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8).
        if not 0 <= salt <= (key.bits + 6) // 8 - digest.digest_size - 2:
            raise UnsupportedAlgorithmError("the RSASSA-PSS salt length does not fit the key")
        pss_salt_length = salt
    try:
        backend.verify_signature(public_key.der, signature, data, digest, scheme, pss_salt_length)
    except DEPENDENCY_ERRORS:
        # A backend must raise pyscep errors; one that does not is not
        # allowed to turn a hostile signature into a crash.
        raise VerificationError("the signature does not verify") from None
