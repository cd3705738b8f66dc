"""SignedData verified strictly (RFC 5652 section 5.6): one signer, its digest and signature.

The signature covers the signed attributes as received, re-tagged from
``[0]`` to a universal SET (RFC 5652 section 5.4), never a re-encoding:
legacy clients sign attribute sets that are not in DER order.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from datetime import datetime

from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.crypto.verify import check_pss_parameters, verify_signature
from pyscep.enums import FailInfo
from pyscep.errors import UnsupportedAlgorithmError, VerificationError
from pyscep.oids import PostQuantumOID
from pyscep.public_key import PARAMETER_SETS

from .values import ParsedSignedData, ParsedSignerInfo, VerifiedSignedData

__all__ = ["find_signer_certificate", "verify_signed_data"]

_RSA_SIGNATURES = {
    "rsassa_pkcs1v15": None,
    "md5_rsa": DigestAlgorithm.MD5,
    "sha1_rsa": DigestAlgorithm.SHA1,
    "sha224_rsa": DigestAlgorithm.SHA224,
    "sha256_rsa": DigestAlgorithm.SHA256,
    "sha384_rsa": DigestAlgorithm.SHA384,
    "sha512_rsa": DigestAlgorithm.SHA512,
}
_ECDSA_SIGNATURES = {
    "ecdsa": None,
    "sha1_ecdsa": DigestAlgorithm.SHA1,
    "sha224_ecdsa": DigestAlgorithm.SHA224,
    "sha256_ecdsa": DigestAlgorithm.SHA256,
    "sha384_ecdsa": DigestAlgorithm.SHA384,
    "sha512_ecdsa": DigestAlgorithm.SHA512,
}


def _scheme_of(info: ParsedSignerInfo, digest: DigestAlgorithm) -> SignatureScheme:
    """The signature scheme, checking that any hash it implies is the digest used."""
    name = info.signature_algorithm
    if name in _RSA_SIGNATURES:
        scheme, implied = SignatureScheme.RSA_PKCS1V15, _RSA_SIGNATURES[name]
    elif name in _ECDSA_SIGNATURES:
        scheme, implied = SignatureScheme.ECDSA, _ECDSA_SIGNATURES[name]
    elif name == "ed25519":
        if digest is not DigestAlgorithm.SHA512:
            raise UnsupportedAlgorithmError("an Ed25519 SignerInfo digests with SHA-512 (RFC 8419)")
        return SignatureScheme.ED25519
    elif info.signature_algorithm_oid in PostQuantumOID.ML_DSA:
        return _ml_dsa_scheme(PostQuantumOID.ML_DSA[info.signature_algorithm_oid], digest)
    elif info.signature_algorithm_oid in PostQuantumOID.REPORTED_ONLY:
        named = PostQuantumOID.REPORTED_ONLY[info.signature_algorithm_oid]
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {named}")
    elif name == "rsassa_pss" and info.pss_params is not None:
        hash_name, mgf_hash, _ = info.pss_params
        check_pss_parameters(digest, hash_name, mgf_hash)
        return SignatureScheme.RSA_PSS
    else:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {name}")
    if implied is not None and implied is not digest:
        raise VerificationError("signature algorithm disagrees with the digest algorithm")
    return scheme


def _ml_dsa_scheme(name: str, digest: DigestAlgorithm) -> SignatureScheme:
    """Pure ML-DSA (RFC 9882 section 3.3): the digest of the signed attributes must be as
    strong as the parameter set (SHA-256 for ML-DSA-44, SHA-384 for -65, SHA-512 for -87)."""
    parameter_set = PARAMETER_SETS[name]
    if digest.digest_size * 4 < parameter_set.strength:
        raise UnsupportedAlgorithmError(
            f"{digest.value} is weaker than {parameter_set.title} (RFC 9882 section 3.3)"
        )
    return SignatureScheme(name)


def find_signer_certificate(
    info: ParsedSignerInfo, candidates: Sequence[Certificate]
) -> Certificate:
    """The one certificate the SignerInfo's sid names; ambiguity is an error.

    Of equal copies (the same DER), the first in ``candidates`` is returned.
    """
    matches = [c for c in candidates if info.names(c)]
    if not matches:
        raise VerificationError(
            "no certificate matches the signer identifier", fail_info=FailInfo.BAD_CERT_ID
        )
    if len(set(matches)) > 1:
        raise VerificationError("several different certificates match the signer identifier")
    return matches[0]


def _single_value(info: ParsedSignerInfo, type_name: str) -> object | None:
    found = [values for name, values in info.cms_attribute_values if name == type_name]
    if not found:
        return None
    if len(found[0]) != 1:
        raise VerificationError(f"signed attribute {type_name} must have exactly one value")
    return found[0][0]


def verify_signed_data(
    parsed: ParsedSignedData,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    certificates: Sequence[Certificate] = (),
    signer_filter: Callable[[Certificate], None] | None = None,
    require_signed_attributes: bool = True,
) -> VerifiedSignedData:
    """Check the one signature of ``parsed``; raise, never return a bool.

    The signer certificate is looked up among the embedded certificates and
    ``certificates``. Who may sign is the caller's decision (``signer_filter``
    may raise to refuse a signer before any signature is checked).

    SCEP's pkiMessages carry signed attributes, and by default they are required.
    With ``require_signed_attributes=False`` a SignerInfo without them (a bare CMS
    SignedData, RFC 5652 section 5.4) is verified over the eContent itself.
    """
    if len(parsed.signer_infos) != 1:
        raise VerificationError(
            f"expected exactly one SignerInfo, found {len(parsed.signer_infos)}"
        )
    info = parsed.signer_infos[0]
    digest = algorithms.check_digest(DigestAlgorithm.from_name(info.digest_algorithm))
    if info.digest_algorithm not in parsed.digest_algorithms:
        raise UnsupportedAlgorithmError("digestAlgorithms does not list the signer's digest")
    scheme = _scheme_of(info, digest)
    if info.signed_attrs_der is not None:
        signed = info.signed_attrs_der
        _check_signed_attributes(parsed, info, digest, backend)
    elif require_signed_attributes:
        raise VerificationError("the SignerInfo has no signed attributes")
    else:
        # RFC 5652 section 5.4: the signature covers the eContent octets, of id-data.
        if parsed.content_type != "data":
            raise VerificationError("without signed attributes the content type must be id-data")
        if parsed.content is None:
            raise VerificationError("without signed attributes the content must be present")
        signed = parsed.content

    # The caller's copy first: what it already decoded (keyUsage, the key) is not
    # decoded again from the copy embedded in this message.
    signer_certificate = find_signer_certificate(info, [*certificates, *parsed.certificates])
    if signer_filter is not None:
        signer_filter(signer_certificate)
    verify_signature(
        backend,
        signer_certificate.public_key,
        info.signature,
        signed,
        digest=digest,
        scheme=scheme,
        algorithms=algorithms,
        pss_salt_length=info.pss_params[2] if info.pss_params else None,
    )
    signing_time = _single_value(info, "signing_time")
    return VerifiedSignedData(
        parsed=parsed,
        signer_info=info,
        signer_certificate=signer_certificate,
        digest=digest,
        scheme=scheme,
        content=parsed.content or b"",
        signing_time=signing_time if isinstance(signing_time, datetime) else None,
    )


def _check_signed_attributes(
    parsed: ParsedSignedData,
    info: ParsedSignerInfo,
    digest: DigestAlgorithm,
    backend: CryptoBackend,
) -> None:
    """RFC 5652 section 5.3/5.4: each attribute once, no countersignature, contentType
    and messageDigest present and agreeing with the content."""
    types = info.signed_attr_types
    if len(types) != len(set(types)):
        raise VerificationError("a signed attribute type appears more than once")
    if "counter_signature" in types:
        raise VerificationError("a countersignature is not allowed among signed attributes")
    content_type = _single_value(info, "content_type")
    if content_type is None:
        raise VerificationError("the contentType signed attribute is missing")
    if content_type != parsed.content_type:
        raise VerificationError("the contentType attribute disagrees with eContentType")
    message_digest = _single_value(info, "message_digest")
    if message_digest is None:
        raise VerificationError("the messageDigest signed attribute is missing")
    expected = backend.digest(digest, parsed.content or b"")
    if not isinstance(message_digest, bytes) or not hmac.compare_digest(message_digest, expected):
        raise VerificationError("messageDigest does not match the content")
