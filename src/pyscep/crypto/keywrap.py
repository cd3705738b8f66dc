"""Key-encryption algorithms built on the backend's block cipher and hashes.

- AES key wrap (RFC 3394), for KeyAgreeRecipientInfo;
- the ANSI X9.63 KDF with the ECC-CMS-SharedInfo of RFC 5753, for the KEK;
- the PWRI key wrap of RFC 3211 section 2.3 (two CBC passes), for
  PasswordRecipientInfo;
- HKDF (RFC 5869), the KDF of KEMRecipientInfo (RFC 9629, RFC 8619).

Unwrapping returns None on any failure instead of raising, so that callers
can carry on with a random key and fail at the one place every other failure
fails (RFC 3218).
"""

from __future__ import annotations

import hashlib
import hmac

from pyscep.algorithms import ContentCipher, DigestAlgorithm
from pyscep.crypto import CryptoBackend, KeyWrapBackend, Rng

__all__ = [
    "aes_key_unwrap",
    "aes_key_wrap",
    "hkdf",
    "pbkdf2",
    "pwri_unwrap",
    "pwri_wrap",
    "x963_kdf",
]

_DEFAULT_IV = b"\xa6" * 8
_ZERO_IV = bytes(16)
_WRAP_CIPHERS = {
    16: ContentCipher.AES128_CBC,
    24: ContentCipher.AES192_CBC,
    32: ContentCipher.AES256_CBC,
}


def _aes_for(kek: bytes) -> ContentCipher:
    try:
        return _WRAP_CIPHERS[len(kek)]
    except KeyError:
        raise ValueError("an AES key-encryption key is 16, 24 or 32 bytes") from None


def aes_key_wrap(backend: KeyWrapBackend, kek: bytes, key: bytes) -> bytes:
    """RFC 3394 wrap of ``key`` (a multiple of 8 bytes, at least 16) under ``kek``."""
    if len(key) < 16 or len(key) % 8:
        raise ValueError("AES key wrap takes a key of 16 or more bytes, a multiple of 8")
    cipher = _aes_for(kek)
    blocks = [key[i : i + 8] for i in range(0, len(key), 8)]
    a = _DEFAULT_IV
    n = len(blocks)
    for j in range(6):
        for i in range(n):
            # One AES block: CBC with a zero IV over one block is the raw cipher.
            b = backend.encrypt_blocks(cipher, kek, _ZERO_IV, a + blocks[i])
            t = (n * j + i + 1).to_bytes(8, "big")
            a = bytes(x ^ y for x, y in zip(b[:8], t, strict=True))
            blocks[i] = b[8:]
    return a + b"".join(blocks)


def aes_key_unwrap(backend: KeyWrapBackend, kek: bytes, wrapped: bytes) -> bytes | None:
    """RFC 3394 unwrap; None when the integrity check fails or the input is malformed."""
    if len(wrapped) < 24 or len(wrapped) % 8 or len(kek) not in _WRAP_CIPHERS:
        return None
    cipher = _aes_for(kek)
    a = wrapped[:8]
    blocks = [wrapped[i : i + 8] for i in range(8, len(wrapped), 8)]
    n = len(blocks)
    try:
        for j in reversed(range(6)):
            for i in reversed(range(n)):
                t = (n * j + i + 1).to_bytes(8, "big")
                a_xor_t = bytes(x ^ y for x, y in zip(a, t, strict=True))
                b = backend.decrypt_blocks(cipher, kek, _ZERO_IV, a_xor_t + blocks[i])
                a, blocks[i] = b[:8], b[8:]
    except Exception:
        return None
    if not hmac.compare_digest(a, _DEFAULT_IV):
        return None
    return b"".join(blocks)


def x963_kdf(
    backend: CryptoBackend, digest: DigestAlgorithm, secret: bytes, length: int, shared_info: bytes
) -> bytes:
    """ANSI X9.63 KDF: Hash(Z || counter || SharedInfo) blocks, counter from 1."""
    out = b""
    counter = 1
    while len(out) < length:
        out += backend.digest(digest, secret + counter.to_bytes(4, "big") + shared_info)
        counter += 1
    return out[:length]


def hkdf(
    digest: DigestAlgorithm, secret: bytes, length: int, info: bytes, salt: bytes = b""
) -> bytes:
    """HKDF-Extract then HKDF-Expand (RFC 5869) with HMAC-``digest``; an empty salt is
    HashLen zero octets (section 2.2)."""
    if not 0 < length <= 255 * digest.digest_size:
        raise ValueError("HKDF output is 1 to 255 hash lengths")
    pseudo_random_key = hmac.digest(salt or bytes(digest.digest_size), secret, digest.value)
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(pseudo_random_key, block + info + bytes((counter,)), digest.value)
        out += block
        counter += 1
    return out[:length]


def pbkdf2(
    digest: DigestAlgorithm, password: bytes, salt: bytes, iterations: int, length: int
) -> bytes:
    """PBKDF2 with HMAC-``digest`` (RFC 8018): hashlib's, which is OpenSSL's."""
    return hashlib.pbkdf2_hmac(digest.value, password, salt, iterations, length)


def pwri_wrap(
    backend: KeyWrapBackend,
    cipher: ContentCipher,
    kek: bytes,
    iv: bytes,
    key: bytes,
    rng: Rng,
) -> bytes:
    """RFC 3211 wrap: length, check bytes, key, random padding; CBC twice."""
    if not 1 <= len(key) <= 255:
        raise ValueError("a PWRI-wrapped key is 1 to 255 bytes")
    block = cipher.block_size
    body = bytes([len(key)]) + bytes(b ^ 0xFF for b in key[:3]) + key
    size = max(2 * block, -(-len(body) // block) * block)
    padded = body + rng(size - len(body))
    first = backend.encrypt_blocks(cipher, kek, iv, padded)
    return backend.encrypt_blocks(cipher, kek, first[-block:], first)


def pwri_unwrap(
    backend: KeyWrapBackend, cipher: ContentCipher, kek: bytes, iv: bytes, wrapped: bytes
) -> bytes | None:
    """RFC 3211 unwrap; None when the check bytes or length are wrong, or on any failure."""
    block = cipher.block_size
    if len(wrapped) < 2 * block or len(wrapped) % block or len(iv) != block:
        return None
    try:
        # The last block of the first pass, from the last two blocks of the second.
        last = backend.decrypt_blocks(cipher, kek, wrapped[-2 * block : -block], wrapped[-block:])
        first = backend.decrypt_blocks(cipher, kek, last, wrapped)
        body = backend.decrypt_blocks(cipher, kek, iv, first)
    except Exception:
        return None
    length = body[0]
    check = bytes(b ^ 0xFF for b in body[1:4])
    if length < 3 or 4 + length > len(body) or not hmac.compare_digest(check, body[4:7]):
        return None
    return body[4 : 4 + length]
