"""`PublicKey`: a SubjectPublicKeyInfo read once, as the algorithm policy sees it.

An RSA key may be spelled with two OIDs (rsaEncryption, and id-RSASSA-PSS for
a key restricted to PSS signatures); both are the RSA family and both get
the same size limits. EC keys are known by their named curve; explicit
curve parameters are reported as such (and refused by the policy).
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys

from ._boundary import field
from .errors import ParseError

__all__ = ["PublicKey"]

#: SPKI algorithm names that hold an RSA key.
_RSA_ALGORITHMS = frozenset({"rsa", "rsassa_pss"})


@dataclass(frozen=True)
class PublicKey:
    """What the key is, not what it can do: algorithm, size, curve, exponent."""

    der: bytes
    #: asn1crypto's name of the SPKI algorithm (``rsa``, ``rsassa_pss``, ``ec``...)
    #: or its dotted OID.
    algorithm: str
    #: Modulus size for RSA, curve size for a named EC curve or Ed25519; 0 when unknown.
    bits: int
    #: EC keys: the named curve (asn1crypto name or dotted OID), or ``explicit``.
    curve: str | None = None
    #: RSA keys: the public exponent.
    public_exponent: int | None = None

    @property
    def family(self) -> str:
        """``rsa`` for both RSA spellings, ``ec``, or the algorithm itself."""
        return "rsa" if self.algorithm in _RSA_ALGORITHMS else self.algorithm

    @property
    def pss_only(self) -> bool:
        """True for an id-RSASSA-PSS key, which RFC 4055 allows only for PSS signatures."""
        return self.algorithm == "rsassa_pss"

    @classmethod
    def load(cls, der: bytes) -> PublicKey:
        """Read DER SubjectPublicKeyInfo; ParseError when it is not one."""
        with field("subjectPublicKeyInfo"):
            info = keys.PublicKeyInfo.load(der, strict=True)
            algorithm = str(info["algorithm"]["algorithm"].native)
            if algorithm in _RSA_ALGORITHMS:
                numbers = info["public_key"].parsed
                modulus = int(numbers["modulus"].native)
                exponent = int(numbers["public_exponent"].native)
                if modulus <= 0:
                    raise ParseError("RSA modulus is not positive")
                return cls(der, algorithm, modulus.bit_length(), public_exponent=exponent)
            if algorithm == "ec":
                parameters = info["algorithm"]["parameters"]
                if parameters.name != "named":
                    return cls(der, algorithm, 0, curve="explicit")
                curve = str(parameters.chosen.native)
                bits = _CURVE_BITS.get(curve, 0)
                return cls(der, algorithm, bits, curve=curve)
            if algorithm == "ed25519":
                return cls(der, algorithm, 256)
            return cls(der, algorithm, 0)


#: Sizes of the curves a policy may allow (others are refused, their size is moot).
_CURVE_BITS = {
    "secp192r1": 192,
    "secp224r1": 224,
    "secp256r1": 256,
    "secp384r1": 384,
    "secp521r1": 521,
    "secp256k1": 256,
    "brainpoolp256r1": 256,
    "brainpoolp384r1": 384,
    "brainpoolp512r1": 512,
}
