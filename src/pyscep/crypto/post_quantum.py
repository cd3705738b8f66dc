"""ML-DSA and ML-KEM private keys as the standards store them: what every backend
shares, before its library sees a key.

A private key in PKCS#8 (RFC 9881 section 6, RFC 9935 section 6) is one of three
forms: the ``seed`` (what FIPS 203/204 key generation starts from), the
``expandedKey``, or ``both``. A backend builds keys from the seed; an expanded key
without its seed cannot be used and is named as such. When both are given they
must agree: the parts of the expanded key that follow from the seed by hashing
(ML-KEM: the encapsulation key, its hash and z; ML-DSA: rho, K and tr) are
compared with the key the seed gives. The rest (ML-KEM's dk_pke, ML-DSA's s1, s2
and t0) would take the key generation itself to check; it is never used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import core, pem

from pyscep._asn1 import OneAsymmetricKey
from pyscep._boundary import field
from pyscep.errors import KeyLoadError, ParseError, UnsupportedAlgorithmError
from pyscep.public_key import PARAMETER_SETS, ParameterSet

__all__ = [
    "PostQuantumPrivateKey",
    "check_expanded_key",
    "read_post_quantum_private_key",
]

#: Longest PKCS#8 file read here: ML-DSA-87's "both" form with its public key is ~7.6 KB.
_MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True)
class PostQuantumPrivateKey:
    """An ML-DSA or ML-KEM private key as its PKCS#8 file holds it."""

    parameter_set: ParameterSet
    #: ``seed``, ``expanded`` or ``both``.
    form: str
    seed: bytes | None
    expanded: bytes | None
    #: The optional publicKey of OneAsymmetricKey (RFC 5958), when present.
    public_key: bytes | None

    def usable_seed(self) -> bytes:
        """The seed keys are built from; UnsupportedAlgorithmError naming an expanded-only key."""
        if self.seed is None:
            raise UnsupportedAlgorithmError(
                f"this {self.parameter_set.title} private key is in its expanded form only; "
                "pyscep's backends build keys from the seed (store the seed or both forms)"
            )
        return self.seed


def read_post_quantum_private_key(data: bytes) -> PostQuantumPrivateKey | None:
    """The ML-DSA or ML-KEM key of a PKCS#8 file (PEM or DER), None for any other key.

    KeyLoadError for a malformed ML-DSA/ML-KEM key (a seed or expanded key of the
    wrong size, an unknown form).
    """
    if len(data) > _MAX_KEY_FILE:
        return None
    if pem.detect(data):
        try:
            kind, _, data = pem.unarmor(data)
        except ValueError:
            return None
        if kind != "PRIVATE KEY":
            return None
    try:
        with field("PrivateKeyInfo"):
            info = OneAsymmetricKey.load(data, strict=True)
            name = str(info["private_key_algorithm"]["algorithm"].native)
            parameter_set = PARAMETER_SETS.get(name)
            if parameter_set is None:
                return None
            version = info["version"].native
            parameters = info["private_key_algorithm"]["parameters"]
            private_key = bytes(info["private_key"].native)
            public = info["public_key"]
            public_key = None if isinstance(public, core.Void) else bytes(public.native)
    except ParseError:
        return None  # not a PKCS#8 file of this shape: the backend's loader says what it is
    if version not in (0, 1):
        raise KeyLoadError(f"an {parameter_set.title} PKCS#8 key of version {version}")
    if not isinstance(parameters, core.Void):
        raise KeyLoadError(f"an {parameter_set.title} key has no algorithm parameters")
    return _private_key_choice(parameter_set, private_key, public_key)


def _private_key_choice(
    parameter_set: ParameterSet, encoded: bytes, public_key: bytes | None
) -> PostQuantumPrivateKey:
    """The ``ML-*-PrivateKey ::= CHOICE { seed [0], expandedKey, both SEQUENCE }``."""
    title = parameter_set.title
    try:
        with field(f"{title} private key"):
            if encoded[:1] == b"\x80":
                seed = bytes(core.OctetString.load(b"\x04" + encoded[1:], strict=True).native)
                form, expanded = "seed", None
            elif encoded[:1] == b"\x04":
                expanded = bytes(core.OctetString.load(encoded, strict=True).native)
                form, seed = "expanded", None
            elif encoded[:1] == b"\x30":
                pair = core.Sequence.load(encoded, strict=True)
                if len(pair) != 2:
                    raise KeyLoadError(f"an {title} 'both' key is a seed and an expanded key")
                seed = bytes(core.OctetString.load(pair[0].dump(), strict=True).native)
                expanded = bytes(core.OctetString.load(pair[1].dump(), strict=True).native)
                form = "both"
            else:
                raise KeyLoadError(f"an {title} private key is a seed, an expanded key or both")
    except ParseError as exc:
        raise KeyLoadError(f"the {title} private key cannot be read: {exc}") from None
    if seed is not None and len(seed) != parameter_set.seed_size:
        raise KeyLoadError(f"an {title} seed is {parameter_set.seed_size} octets")
    if expanded is not None and len(expanded) != parameter_set.expanded_size:
        raise KeyLoadError(f"an {title} expanded key is {parameter_set.expanded_size} octets")
    if public_key is not None and len(public_key) != parameter_set.public_key_size:
        raise KeyLoadError(f"an {title} public key is {parameter_set.public_key_size} octets")
    return PostQuantumPrivateKey(parameter_set, form, seed, expanded, public_key)


#: ML-DSA's matrix dimensions (k, l) by parameter set (FIPS 204 table 1).
_ML_DSA_DIMENSIONS = {"ml_dsa_44": (4, 4), "ml_dsa_65": (6, 5), "ml_dsa_87": (8, 7)}


def check_expanded_key(
    parameter_set: ParameterSet, seed: bytes, expanded: bytes, public_key: bytes
) -> None:
    """KeyLoadError unless ``expanded`` is the key ``seed`` gives (``public_key``: its
    raw public key), as far as hashing shows.

    ML-KEM's decapsulation key ends with the encapsulation key, its SHA3-256 and z,
    the seed's second half (FIPS 203 algorithm 16). ML-DSA's private key starts with
    rho and K, the first and last 32 octets of SHAKE256(seed || k || l, 128), then
    tr = SHAKE256(pk, 64) (FIPS 204 algorithm 6).
    """
    if parameter_set.is_kem:
        offset = parameter_set.expanded_size - 2 * 32 - parameter_set.public_key_size
        holds = expanded[offset : offset + parameter_set.public_key_size]
        digest = expanded[offset + parameter_set.public_key_size :][:32]
        agrees = (
            holds == public_key
            and digest == hashlib.sha3_256(public_key).digest()
            and expanded[-32:] == seed[32:]
        )
    else:
        rows, columns = _ML_DSA_DIMENSIONS[parameter_set.name]
        seeds = hashlib.shake_256(seed + bytes((rows, columns))).digest(128)
        tr = hashlib.shake_256(public_key).digest(64)
        agrees = (
            expanded[:32] == public_key[:32] == seeds[:32]
            and expanded[32:64] == seeds[96:128]
            and expanded[64:128] == tr
        )
    if not agrees:
        raise KeyLoadError(f"the {parameter_set.title} seed and expanded key are not the same key")
