"""PRIVATE: the SubjectPublicKeyInfo and the certificate as asn1crypto reads them,
extended by subclassing with ML-DSA and ML-KEM keys (opaque octets, RFC 9881 and
RFC 9935) and the algorithms pyscep only names; apart from `pyscep._asn1` so that
the values (and the policy, which reads keys and certificates) load none of the
SCEP message classes.
"""

from __future__ import annotations

from asn1crypto import core, keys, x509

from ._setup_asn1crypto import set_up
from .oids import PostQuantumOID

__all__ = [
    "Certificate",
    "PublicKeyAlgorithm",
    "PublicKeyAlgorithmId",
    "PublicKeyInfo",
    "TbsCertificate",
]


class PublicKeyAlgorithmId(keys.PublicKeyAlgorithmId):
    """SubjectPublicKeyInfo algorithms, with ML-DSA and ML-KEM named."""

    _map = {**keys.PublicKeyAlgorithmId._map, **PostQuantumOID.ML_DSA, **PostQuantumOID.ML_KEM}  # noqa: RUF012
    _reverse_map = None


class PublicKeyAlgorithm(keys.PublicKeyAlgorithm):
    """AlgorithmIdentifier of a SubjectPublicKeyInfo, reading `PublicKeyAlgorithmId`."""

    _fields = [  # noqa: RUF012
        ("algorithm", PublicKeyAlgorithmId),
        ("parameters", core.Any, {"optional": True}),
    ]


#: Key algorithms whose subjectPublicKey is an opaque octet string (RFC 9881, RFC 9935),
#: and those pyscep reads only far enough to name (SLH-DSA, composites).
_OPAQUE_KEYS = frozenset(
    {
        *PostQuantumOID.ML_DSA.values(),
        *PostQuantumOID.ML_KEM.values(),
        *PostQuantumOID.REPORTED_ONLY,
    }
)


class PublicKeyInfo(keys.PublicKeyInfo):
    """SubjectPublicKeyInfo that also reads ML-DSA and ML-KEM keys (opaque octets)."""

    _fields = [  # noqa: RUF012
        ("algorithm", PublicKeyAlgorithm),
        ("public_key", core.ParsableOctetBitString),
    ]

    def _key_spec(self) -> object:
        # asn1crypto's own table (keys.PublicKeyInfo), and the opaque keys beside it.
        algorithm = self["algorithm"]["algorithm"].native
        if algorithm in _OPAQUE_KEYS or algorithm in ("x25519", "x448", "ed25519", "ed448"):
            return (core.OctetBitString, None)
        return {
            "rsa": keys.RSAPublicKey,
            "rsaes_oaep": keys.RSAPublicKey,
            "rsassa_pss": keys.RSAPublicKey,
            "dsa": core.Integer,
            "ec": (keys.ECPointBitString, None),
            "dh": core.Integer,
        }[algorithm]

    _spec_callbacks = {"public_key": _key_spec}  # noqa: RUF012


class TbsCertificate(x509.TbsCertificate):
    """TBSCertificate reading the key with `PublicKeyInfo`."""

    _fields = [  # noqa: RUF012
        (field[0], PublicKeyInfo, *field[2:]) if field[0] == "subject_public_key_info" else field
        for field in x509.TbsCertificate._fields
    ]


class Certificate(x509.Certificate):
    """Certificate whose TBSCertificate is `TbsCertificate`."""

    _fields = [  # noqa: RUF012
        (field[0], TbsCertificate, *field[2:]) if field[0] == "tbs_certificate" else field
        for field in x509.Certificate._fields
    ]


set_up(list(globals().values()))  # this module's classes too (see _setup_asn1crypto)
