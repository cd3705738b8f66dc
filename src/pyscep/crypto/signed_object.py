"""Verifying X.509-style signatures: certificates and PKCS#10 requests.

Both carry the signature, the signed bytes and an AlgorithmIdentifier that
names scheme and hash together (sha256WithRSAEncryption, RSASSA-PSS with
parameters, ecdsa-with-SHA256...). That identifier may come from an attacker,
so it is read inside the parse boundary, and the check itself is the one
every signature gets (`pyscep.crypto.verify.verify_signature`).
"""

from __future__ import annotations

from asn1crypto import algos

from pyscep import _der_writer as w
from pyscep._boundary import field
from pyscep._der_reader import SIGNATURE_ALGORITHMS
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate, names_equal
from pyscep.crypto import CryptoBackend
from pyscep.errors import ScepError, UnsupportedAlgorithmError, VerificationError
from pyscep.oids import PostQuantumOID
from pyscep.public_key import PublicKey

from .verify import check_pss_parameters, verify_signature

__all__ = [
    "ML_DSA_ALGORITHM_IDENTIFIERS",
    "is_issued_by",
    "verify_issued_by",
    "verify_signed_object",
]

#: The DER AlgorithmIdentifier of each pure ML-DSA scheme: the OID alone, parameters
#: absent (RFC 9881 section 2, RFC 9882 section 3.2), in certificates, CRLs, requests
#: and SignerInfos alike.
ML_DSA_ALGORITHM_IDENTIFIERS = {
    SignatureScheme(name): w.sequence(w.oid(dotted))
    for dotted, name in PostQuantumOID.ML_DSA.items()
}
#: The algorithms pyscep names but refuses, and ML-DSA spelled with parameters.
_REFUSED_BY_NAME = {**PostQuantumOID.ML_DSA, **PostQuantumOID.REPORTED_ONLY}

_SCHEMES = {
    "rsassa_pkcs1v15": SignatureScheme.RSA_PKCS1V15,
    "rsassa_pss": SignatureScheme.RSA_PSS,
    "ecdsa": SignatureScheme.ECDSA,
    "ed25519": SignatureScheme.ED25519,
}


def verify_signed_object(
    backend: CryptoBackend,
    public_key: PublicKey | bytes,
    algorithm_der: bytes,
    signature: bytes,
    signed: bytes,
    *,
    algorithms: AlgorithmPolicy,
) -> None:
    """Raise VerificationError unless ``signature`` over ``signed`` verifies.

    ``public_key`` as `verify_signature` takes it: read, or DER to read.
    ``algorithm_der`` is the DER AlgorithmIdentifier. ParseError for an
    unreadable one, UnsupportedAlgorithmError for a scheme, hash, key or
    parameter that pyscep does not implement or ``algorithms`` refuses.
    """
    scheme, digest, salt = _signature_parameters(algorithm_der)
    verify_signature(
        backend,
        public_key,
        signature,
        signed,
        digest=digest,
        scheme=scheme,
        algorithms=algorithms,
        pss_salt_length=salt,
    )


def _signature_parameters(
    algorithm_der: bytes,
) -> tuple[SignatureScheme, DigestAlgorithm, int | None]:
    """(scheme, digest, RSASSA-PSS salt length) of a signature AlgorithmIdentifier."""
    known = _KNOWN_ALGORITHMS.get(algorithm_der)
    return known if known is not None else _read_algorithm(algorithm_der)


def _read_algorithm(
    algorithm_der: bytes,
) -> tuple[SignatureScheme, DigestAlgorithm, int | None]:
    """(scheme, digest, RSASSA-PSS salt length) of a DER signature AlgorithmIdentifier."""
    with field("signatureAlgorithm"):
        algorithm = algos.SignedDigestAlgorithm.load(algorithm_der, strict=True)
        name = str(algorithm["algorithm"].native)
        named = _REFUSED_BY_NAME.get(name)
        if named is not None:
            # An ML-DSA identifier with parameters, or an algorithm pyscep only names.
            raise UnsupportedAlgorithmError(f"unsupported signature algorithm {named}")
        scheme = _SCHEMES.get(algorithm.signature_algo) if name != "rsassa_pkcs1v15" else None
        if scheme is None:
            raise UnsupportedAlgorithmError(f"unsupported signature algorithm {name}")
        digest = DigestAlgorithm.from_name(algorithm.hash_algo)
        salt = None
        if scheme is SignatureScheme.RSA_PSS:
            parameters = algorithm["parameters"]
            mask = parameters["mask_gen_algorithm"]
            if mask["algorithm"].native != "mgf1":
                raise UnsupportedAlgorithmError("RSASSA-PSS with a mask generation other than MGF1")
            check_pss_parameters(
                digest,
                str(parameters["hash_algorithm"]["algorithm"].native),
                str(mask["parameters"]["algorithm"].native),
                _trailer(parameters),
            )
            salt = int(parameters["salt_length"].native)
    return scheme, digest, salt


def _known_algorithms() -> dict[bytes, tuple[SignatureScheme, DigestAlgorithm, int | None]]:
    """`_read_algorithm` of the usual identifiers (parameters absent or NULL), by their DER:
    read once here instead of by asn1crypto for every signature."""
    known = {}
    for oid in SIGNATURE_ALGORITHMS:
        identifier = w.tlv(0x06, oid)
        for parameters in (b"", b"\x05\x00"):
            der = w.tlv(0x30, identifier + parameters)
            try:
                known[der] = _read_algorithm(der)
            except ScepError:
                continue  # refused on every use: left to _read_algorithm to say so
    # Pure ML-DSA (RFC 9881): the identifier alone, no parameters; the key's own hash.
    for scheme, der in ML_DSA_ALGORITHM_IDENTIFIERS.items():
        known[der] = (scheme, DigestAlgorithm.SHA512, None)
    return known


_KNOWN_ALGORITHMS = _known_algorithms()


def _trailer(parameters: algos.RSASSAPSSParams) -> int:
    """The trailerField as a number (asn1crypto names the only defined value)."""
    value = parameters["trailer_field"].native
    return 1 if value == "trailer_field_bc" else int(value)


def verify_issued_by(
    certificate: Certificate,
    issuer: Certificate,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> None:
    """Raise unless ``issuer``'s key signed ``certificate`` (a matching name proves nothing).

    VerificationError when the issuer name differs or the signature does not
    verify; UnsupportedAlgorithmError and ParseError as `verify_signed_object`.
    """
    if not names_equal(certificate.issuer_der, issuer.subject_der):
        raise VerificationError("the certificate names another issuer")
    # RFC 5280 section 4.1.1.2: the unsigned outer algorithm must be the signed one,
    # or its parameters could be anything while the signature still verifies.
    if certificate.signature_algorithm_der != certificate.signed_signature_algorithm_der:
        raise VerificationError("the certificate's signatureAlgorithm is not the signed one")
    signature, signed = certificate.signature, certificate.tbs_certificate_der
    # The algorithm is read (and refused) before the issuer's key, as ever; the key is
    # the one the issuer has read.
    scheme, digest, salt = _signature_parameters(certificate.signature_algorithm_der)
    verify_signature(
        backend,
        issuer.public_key,
        signature,
        signed,
        digest=digest,
        scheme=scheme,
        algorithms=algorithms,
        pss_salt_length=salt,
    )


def is_issued_by(
    certificate: Certificate,
    issuer: Certificate,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> bool:
    """`verify_issued_by` as a yes/no: anything unreadable or refused is "no"."""
    try:
        verify_issued_by(certificate, issuer, backend=backend, algorithms=algorithms)
    except ScepError:
        return False
    return True
