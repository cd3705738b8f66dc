"""`PublicKey`: a SubjectPublicKeyInfo read once, as the algorithm policy sees it.

An RSA key may be spelled with two OIDs (rsaEncryption, and id-RSASSA-PSS for
a key restricted to PSS signatures); both are the RSA family and both get
the same size limits. EC keys are known by their named curve; explicit
curve parameters are reported as such (and refused by the policy). ML-DSA and
ML-KEM keys (RFC 9881, RFC 9935) are known by their parameter set
(`PARAMETER_SETS`), their size by its security strength.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import core, keys

from ._boundary import field as parse_field
from ._der import DEFAULT_LIMITS
from ._der_reader import NotCanonicalError, Reader, oid_octets
from ._parser_switch import read_fast
from ._spki import PublicKeyInfo
from .errors import ParseError
from .oids import PostQuantumOID

__all__ = ["PARAMETER_SETS", "ParameterSet", "PublicKey"]


@dataclass(frozen=True)
class ParameterSet:
    """One ML-DSA (FIPS 204) or ML-KEM (FIPS 203) parameter set and its sizes in octets."""

    #: pyscep's name (``ml_dsa_65``, ``ml_kem_768``), the key's `PublicKey.algorithm`.
    name: str
    #: The standard's name (``ML-DSA-65``).
    title: str
    oid: str
    #: Security strength in bits (NIST categories 1, 3, 5: 128, 192, 256).
    strength: int
    public_key_size: int
    #: The private key's seed (32 for ML-DSA, d || z = 64 for ML-KEM) and expanded form.
    seed_size: int
    expanded_size: int
    #: ML-DSA: the signature; ML-KEM: the ciphertext.
    output_size: int

    @property
    def is_kem(self) -> bool:
        """True for ML-KEM, False for ML-DSA."""
        return self.name.startswith("ml_kem")


def _parameter_set(
    oid: str, strength: int, public: int, seed: int, expanded: int, output: int
) -> ParameterSet:
    name = {**PostQuantumOID.ML_DSA, **PostQuantumOID.ML_KEM}[oid]
    title = name.upper().replace("_", "-")
    return ParameterSet(name, title, oid, strength, public, seed, expanded, output)


#: The parameter sets by pyscep name (sizes from FIPS 203 and FIPS 204).
PARAMETER_SETS = {
    parameters.name: parameters
    for parameters in (
        _parameter_set("2.16.840.1.101.3.4.3.17", 128, 1312, 32, 2560, 2420),
        _parameter_set("2.16.840.1.101.3.4.3.18", 192, 1952, 32, 4032, 3309),
        _parameter_set("2.16.840.1.101.3.4.3.19", 256, 2592, 32, 4896, 4627),
        _parameter_set("2.16.840.1.101.3.4.4.1", 128, 800, 64, 1632, 768),
        _parameter_set("2.16.840.1.101.3.4.4.2", 192, 1184, 64, 2400, 1088),
        _parameter_set("2.16.840.1.101.3.4.4.3", 256, 1568, 64, 3168, 1568),
    )
}

#: SPKI algorithm names that hold an RSA key.
_RSA_ALGORITHMS = frozenset({"rsa", "rsassa_pss"})


@dataclass(frozen=True)
class PublicKey:
    """What the key is, not what it can do: algorithm, size, curve, exponent.

    ``der`` is its only argument; the rest is read from it when it is made
    (ParseError when it is no SubjectPublicKeyInfo), so ``replace(key, der=...)``
    reads the new key and the read fields cannot be replaced.
    """

    der: bytes
    #: asn1crypto's name of the SPKI algorithm (``rsa``, ``rsassa_pss``, ``ec``...)
    #: or its dotted OID.
    algorithm: str = field(init=False)
    #: Modulus size for RSA, curve size for a named EC curve or Ed25519, security
    #: strength for ML-DSA and ML-KEM; 0 when unknown.
    bits: int = field(init=False)
    #: EC keys: the named curve (asn1crypto name or dotted OID), or ``explicit``.
    curve: str | None = field(init=False)
    #: RSA keys: the public exponent.
    public_exponent: int | None = field(init=False)

    def __post_init__(self) -> None:
        read = read_fast("public_key", lambda: _read_canonical(self.der))
        if read is None:
            read = _read_with_asn1crypto(self.der)
        # Frozen: the fields read from der are set once, here, before the value is seen.
        for name, value in zip(
            ("algorithm", "bits", "curve", "public_exponent"), read, strict=True
        ):
            object.__setattr__(self, name, value)

    @property
    def family(self) -> str:
        """``rsa`` for both RSA spellings, ``ec``, or the algorithm itself."""
        return "rsa" if self.algorithm in _RSA_ALGORITHMS else self.algorithm

    @property
    def named_only(self) -> bool:
        """True for an algorithm pyscep reads only far enough to name (SLH-DSA,
        HashML-DSA, the composites): ``algorithm`` is its name, ``bits`` 0."""
        return self.algorithm in _NAMED_ONLY

    @property
    def parameter_set(self) -> ParameterSet | None:
        """The ML-DSA or ML-KEM parameter set of this key, None for other keys."""
        return PARAMETER_SETS.get(self.algorithm)

    @property
    def pss_only(self) -> bool:
        """True for an id-RSASSA-PSS key, which RFC 4055 allows only for PSS signatures."""
        return self.algorithm == "rsassa_pss"

    @classmethod
    def load(cls, der: bytes) -> PublicKey:
        """Read DER SubjectPublicKeyInfo; ParseError when it is not one."""
        return cls(der)


_NAMED_ONLY = frozenset(PostQuantumOID.REPORTED_ONLY.values())

#: What is read from a SubjectPublicKeyInfo: algorithm, bits, curve, public exponent.
_KeyFields = tuple[str, int, str | None, int | None]


def _read_with_asn1crypto(der: bytes) -> _KeyFields:
    """Every spelling the fast path leaves; asn1crypto refuses what is wrong."""
    with parse_field("subjectPublicKeyInfo"):
        info = PublicKeyInfo.load(der, strict=True)
        algorithm = str(info["algorithm"]["algorithm"].native)
        parameter_set = PARAMETER_SETS.get(algorithm)
        if parameter_set is not None:
            return _post_quantum_fields(
                parameter_set,
                isinstance(info["algorithm"]["parameters"], core.Void),
                len(info["public_key"].native),
            )
        if algorithm in _RSA_ALGORITHMS:
            numbers = info["public_key"].parsed
            modulus = int(numbers["modulus"].native)
            exponent = int(numbers["public_exponent"].native)
            if modulus <= 0:
                raise ParseError("RSA modulus is not positive")
            return algorithm, modulus.bit_length(), None, exponent
        if algorithm == "ec":
            parameters = info["algorithm"]["parameters"]
            if parameters.name != "named":
                return algorithm, 0, "explicit", None
            curve = str(parameters.chosen.native)
            return algorithm, _CURVE_BITS.get(curve, 0), curve, None
        if algorithm == "ed25519":
            return algorithm, 256, None, None
        return PostQuantumOID.REPORTED_ONLY.get(algorithm, algorithm), 0, None, None


def _post_quantum_fields(
    parameter_set: ParameterSet, parameters_absent: bool, key_size: int
) -> _KeyFields:
    """An ML-DSA or ML-KEM key: no parameters (RFC 9881, RFC 9935), the set's key size."""
    if not parameters_absent:
        raise ParseError(f"an {parameter_set.title} key has no algorithm parameters")
    if key_size != parameter_set.public_key_size:
        raise ParseError(
            f"an {parameter_set.title} public key is {parameter_set.public_key_size} octets"
        )
    return parameter_set.name, parameter_set.strength, None, None


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


_RSA_ENCRYPTION = oid_octets("1.2.840.113549.1.1.1")
_EC_PUBLIC_KEY = oid_octets("1.2.840.10045.2.1")
_ED25519 = oid_octets("1.3.101.112")
# OID content octets -> asn1crypto's name, for the curves a policy may allow.
_NAMED_CURVES = {oid_octets(keys.NamedCurve.unmap(name)): name for name in _CURVE_BITS}
_POST_QUANTUM = {oid_octets(p.oid): p for p in PARAMETER_SETS.values()}


def _read_canonical(der: bytes) -> _KeyFields:
    """The DER fast path (`pyscep._der_reader`): rsaEncryption with NULL parameters, a
    named-curve EC key or an Ed25519 key; NotCanonicalError for anything else."""
    reader = Reader(der, DEFAULT_LIMITS)
    start, end = reader.element(0, len(der), 0x30, 1)
    if end != len(der):
        raise NotCanonicalError
    algorithm_start, algorithm_end = reader.element(start, end, 0x30, 2)
    oid, cursor = reader.oid(algorithm_start, algorithm_end, 3)
    bits_start, bits_end = reader.element(algorithm_end, end, 0x03, 2)
    if bits_end != end:
        raise NotCanonicalError
    if oid == _RSA_ENCRYPTION:
        if der[cursor : cursor + 2] != b"\x05\x00" or cursor + 2 != algorithm_end:
            raise NotCanonicalError
        if bits_start == bits_end or der[bits_start] != 0:
            raise NotCanonicalError
        key_start, key_end = reader.element(bits_start + 1, bits_end, 0x30, 3)
        modulus, after = reader.uncounted_integer(key_start, key_end)
        exponent, after = reader.uncounted_integer(after, key_end)
        if after != key_end or key_end != bits_end or modulus <= 0:
            raise NotCanonicalError
        return "rsa", modulus.bit_length(), None, exponent
    if oid == _EC_PUBLIC_KEY:
        curve_oid, after = reader.oid(cursor, algorithm_end, 3)
        curve = _NAMED_CURVES.get(curve_oid)
        if curve is None or after != algorithm_end:
            raise NotCanonicalError
        return "ec", _CURVE_BITS[curve], curve, None
    if oid == _ED25519 and cursor == algorithm_end:
        return "ed25519", 256, None, None
    parameter_set = _POST_QUANTUM.get(oid)
    if parameter_set is not None and bits_start < bits_end and der[bits_start] == 0:
        return _post_quantum_fields(
            parameter_set, cursor == algorithm_end, bits_end - bits_start - 1
        )
    raise NotCanonicalError
