"""RSA key transport with caller-supplied randomness, for reproducible messages.

PKCS#1 v1.5 and OAEP encryption are randomised inside every crypto library,
so a message built with them cannot be rebuilt byte for byte. A backend that
is given ``rng`` pads with it here (RFC 8017 sections 7.1.1 and 7.2.1) and
applies the public RSA operation. Only public data is involved.
"""

from __future__ import annotations

import hashlib

from pyscep.algorithms import KeyTransport
from pyscep.errors import LocalProtocolError

from . import Rng

__all__ = ["rsa_encrypt_with_rng"]


def _mgf1(seed: bytes, length: int, hash_name: str) -> bytes:
    output = b""
    counter = 0
    while len(output) < length:
        output += hashlib.new(hash_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return output[:length]


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _nonzero(rng: Rng, length: int) -> bytes:
    out = b""
    while len(out) < length:
        out += bytes(b for b in rng(length - len(out)) if b)
    return out


def rsa_encrypt_with_rng(
    modulus: int, exponent: int, transport: KeyTransport, key: bytes, rng: Rng
) -> bytes:
    """RSAES-PKCS1-v1_5 or RSAES-OAEP encryption of ``key`` with padding from ``rng``."""
    size = (modulus.bit_length() + 7) // 8
    if transport.oaep_hash is None:
        if len(key) > size - 11:
            raise LocalProtocolError("key too long for RSAES-PKCS1-v1_5")
        encoded = b"\x00\x02" + _nonzero(rng, size - len(key) - 3) + b"\x00" + key
    else:
        name = transport.oaep_hash.value
        digest_size = transport.oaep_hash.digest_size
        if len(key) > size - 2 * digest_size - 2:
            raise LocalProtocolError("key too long for RSAES-OAEP")
        label_hash = hashlib.new(name, b"").digest()
        block = label_hash + bytes(size - len(key) - 2 * digest_size - 2) + b"\x01" + key
        seed = rng(digest_size)
        masked_block = _xor(block, _mgf1(seed, len(block), name))
        masked_seed = _xor(seed, _mgf1(masked_block, digest_size, name))
        encoded = b"\x00" + masked_seed + masked_block
    value = pow(int.from_bytes(encoded, "big"), exponent, modulus)
    return value.to_bytes(size, "big")
