"""RSA key transport with caller-supplied randomness, for reproducible messages.

PKCS#1 v1.5 and OAEP encryption are randomised inside every crypto library,
so a message built with them cannot be rebuilt byte for byte. When a caller
injects ``rng`` (tests, golden vectors), pyscep pads itself (RFC 8017
sections 7.1.1 and 7.2.1) with bytes from ``rng`` and applies the public RSA
operation. Only public data is involved; the default path (no ``rng``) stays
in the backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import keys

from pyscep.algorithms import KeyTransport
from pyscep.errors import UnsupportedAlgorithmError

__all__ = ["encrypt_key_with_rng"]


def _mgf1(seed: bytes, length: int, hash_name: str) -> bytes:
    output = b""
    counter = 0
    while len(output) < length:
        output += hashlib.new(hash_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return output[:length]


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _nonzero(rng: Callable[[int], bytes], length: int) -> bytes:
    out = b""
    while len(out) < length:
        out += bytes(b for b in rng(length - len(out)) if b)
    return out


def encrypt_key_with_rng(
    public_key_der: bytes, transport: KeyTransport, key: bytes, rng: Callable[[int], bytes]
) -> bytes:
    """RSAES-PKCS1-v1_5 or RSAES-OAEP encryption of ``key`` with padding from ``rng``."""
    info = keys.PublicKeyInfo.load(public_key_der)
    if info.algorithm != "rsa":
        raise UnsupportedAlgorithmError("key transport needs an RSA recipient key")
    numbers = info["public_key"].parsed
    modulus, exponent = int(numbers["modulus"].native), int(numbers["public_exponent"].native)
    size = (modulus.bit_length() + 7) // 8
    if transport.oaep_hash is None:
        if len(key) > size - 11:
            raise ValueError("key too long for RSA-PKCS1-v1_5")
        encoded = b"\x00\x02" + _nonzero(rng, size - len(key) - 3) + b"\x00" + key
    else:
        name = transport.oaep_hash.value
        digest_size = transport.oaep_hash.digest_size
        if len(key) > size - 2 * digest_size - 2:
            raise ValueError("key too long for RSAES-OAEP")
        label_hash = hashlib.new(name, b"").digest()
        block = label_hash + bytes(size - len(key) - 2 * digest_size - 2) + b"\x01" + key
        seed = rng(digest_size)
        masked_block = bytes(
            a ^ b for a, b in zip(block, _mgf1(seed, len(block), name), strict=True)
        )
        masked_seed = bytes(
            a ^ b for a, b in zip(seed, _mgf1(masked_block, digest_size, name), strict=True)
        )
        encoded = b"\x00" + masked_seed + masked_block
    value = pow(int.from_bytes(encoded, "big"), exponent, modulus)
    return value.to_bytes(size, "big")
