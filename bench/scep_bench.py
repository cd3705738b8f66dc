"""Workloads W0-W4 (bench/WORKLOAD.md) against their floors, side by side in one run.

    python bench/scep_bench.py [--rounds 7] [--seconds 0.4]

For each workload, pyscep and its reference run in interleaved rounds (A, B,
A, B...): W1-W4 against the floor (the same primitives called directly on
pyca/cryptography: one RSA private and one public operation, AES, SHA-256),
W0 against a minimal schema-less DER walk. Each round gives ops/s for both
and their ratio; the table shows min and median ops/s and the median ratio.
Ratios, not times, are what to compare between machines.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import pyscep
from pyscep.cms.signed import parse_signed_data
from pyscep.crypto import KeyPair
from pyscep.messages import (
    CertificationRequest,
    CertsOnly,
    ReplyTo,
    build_cert_rep_success,
    build_pkcs_req,
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


META = json.loads(_read("meta.json"))
CA = pyscep.Certificate.load(_read("ca.crt.der"))
CLIENT = pyscep.Certificate.load(_read("client.crt.der"))
ISSUED = pyscep.Certificate.load(_read("issued.crt.der"))
CA_PAIR = KeyPair(pyscep.load_private_key(_read("ca.key.der")), CA)
CLIENT_PAIR = KeyPair(pyscep.load_private_key(_read("client.key.der")), CLIENT)
CSR = CertificationRequest.load(_read("client.csr.der"))
PKCSREQ = _read("pkcsreq.der")
CERTREP = _read("certrep.der")


# --- pyscep ---------------------------------------------------------------------------


def w0_pyscep() -> None:
    message = parse_pki_message(PKCSREQ)
    values = (message.message_type, message.transaction_id, message.sender_nonce)
    assert values[0].wire == "19"


def w1_pyscep() -> None:
    build_pkcs_req(CSR, signer=CLIENT_PAIR, recipient=CA)


REQUEST = verify_request(parse_pki_message(PKCSREQ))
REPLY_TO = ReplyTo.of(REQUEST)


def w2_pyscep() -> None:
    message = verify_request(parse_pki_message(PKCSREQ))
    request = decrypt_pki_message(message, CA_PAIR)
    assert isinstance(request, CertificationRequest)
    assert request.challenge_password == META["challenge_password"]


def w3_pyscep() -> None:
    build_cert_rep_success(REPLY_TO, [ISSUED], signer=CA_PAIR)


def w4_pyscep() -> None:
    message = verify_cert_rep(parse_pki_message(CERTREP), ca_certificates=[CA])
    content = decrypt_pki_message(message, CLIENT_PAIR)
    assert isinstance(content, CertsOnly)
    assert content.certificates[0].der == ISSUED.der


# --- the floors: the same primitives, straight on pyca/cryptography ---------------------


def _private(name: str) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(_read(name), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


CA_KEY, CLIENT_KEY = _private("ca.key.der"), _private("client.key.der")
CA_PUBLIC, CLIENT_PUBLIC = CA_KEY.public_key(), CLIENT_KEY.public_key()
PKCS1 = rsa_padding.PKCS1v15()


def _cut_pieces(der: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """(signed attributes as a SET, signature, encrypted key, ciphertext+IV) of a message."""
    info = parse_signed_data(der).signer_infos[0]
    envelope = parse_pki_message(der).envelope
    assert envelope is not None
    assert envelope.encrypted_content is not None
    assert envelope.iv is not None
    assert info.signed_attrs_der is not None
    return (
        info.signed_attrs_der,
        info.signature,
        envelope.recipients[0].encrypted_key,
        envelope.iv + envelope.encrypted_content,
    )


def _floor_build(
    plaintext: bytes, attrs: bytes, recipient: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey
) -> None:
    key, iv, _nonce = os.urandom(16), os.urandom(16), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    recipient.encrypt(key, PKCS1)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(ciphertext + bytes(META["pkcsreq_econtent_size"] - len(ciphertext)))
    digest.finalize()
    signer.sign(attrs, PKCS1, hashes.SHA256())


def _floor_open(
    pieces: tuple[bytes, bytes, bytes, bytes],
    econtent: bytes,
    verifier: rsa.RSAPublicKey,
    decrypter: rsa.RSAPrivateKey,
) -> None:
    attrs, signature, encrypted_key, iv_ciphertext = pieces
    verifier.verify(signature, attrs, PKCS1, hashes.SHA256())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(econtent)
    digest.finalize()
    key = decrypter.decrypt(encrypted_key, PKCS1)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv_ciphertext[:16])).decryptor()
    padded = decryptor.update(iv_ciphertext[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    unpadder.update(padded) + unpadder.finalize()


REQ_PIECES, REP_PIECES = _cut_pieces(PKCSREQ), _cut_pieces(CERTREP)
REQ_ECONTENT = bytes(META["pkcsreq_econtent_size"])
REP_ECONTENT = bytes(META["certrep_econtent_size"])
DEGENERATE = bytes(META["degenerate_size"])


def w1_floor() -> None:
    _floor_build(CSR.der, REQ_PIECES[0], CA_PUBLIC, CLIENT_KEY)


def w2_floor() -> None:
    _floor_open(REQ_PIECES, REQ_ECONTENT, CLIENT_PUBLIC, CA_KEY)


def w3_floor() -> None:
    _floor_build(DEGENERATE, REP_PIECES[0], CLIENT_PUBLIC, CA_KEY)


def w4_floor() -> None:
    _floor_open(REP_PIECES, REP_ECONTENT, CA_PUBLIC, CLIENT_KEY)


def der_walk(data: bytes, start: int = 0, end: int | None = None) -> int:
    """The W0 reference: visit every TLV of ``data`` (no schema), return how many."""
    end = len(data) if end is None else end
    count = 0
    position = start
    while position < end:
        tag = data[position]
        position += 1
        length = data[position]
        position += 1
        if length & 0x80:
            octets = length & 0x7F
            length = int.from_bytes(data[position : position + octets], "big")
            position += octets
        count += 1
        if tag & 0x20:
            count += der_walk(data, position, position + length)
        position += length
    return count


def w0_reference() -> None:
    der_walk(PKCSREQ)


WORKLOADS: dict[str, tuple[Callable[[], None], Callable[[], None], str, float]] = {
    # name: (pyscep, its reference, what the reference is, the target ratio: issue 25)
    "W0 parse only": (w0_pyscep, w0_reference, "DER walk", 0.85),
    "W1 build PKCSReq": (w1_pyscep, w1_floor, "floor", 0.90),
    "W2 server opens PKCSReq": (w2_pyscep, w2_floor, "floor", 0.70),
    "W3 build CertRep": (w3_pyscep, w3_floor, "floor", 0.90),
    "W4 client opens CertRep": (w4_pyscep, w4_floor, "floor", 0.70),
}


def ops_per_second(operation: Callable[[], None], seconds: float) -> float:
    """Run ``operation`` for about ``seconds``; its rate."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.4, help="per side per round")
    parser.add_argument(
        "--profile-lines", type=int, default=12, help="per workload under its target (0: none)"
    )
    args = parser.parse_args()
    for ours, reference, _, _ in WORKLOADS.values():  # warm up, and check the outputs
        ours()
        reference()
    print(f"pyscep {pyscep.__version__ if hasattr(pyscep, '__version__') else ''}".strip(), end="")
    print(f"  Python {sys.version.split()[0]}  {args.rounds} interleaved rounds x {args.seconds}s")
    print(
        f"{'workload':<26}{'pyscep ops/s min/median':>26}{'reference ops/s min/median':>30}"
        f"{'ratio (median)':>16}{'target':>8}"
    )
    missed = []
    for name, (ours, reference, label, target) in WORKLOADS.items():
        mine, theirs, ratios = [], [], []
        for _ in range(args.rounds):
            a = ops_per_second(ours, args.seconds)
            b = ops_per_second(reference, args.seconds)
            mine.append(a)
            theirs.append(b)
            ratios.append(a / b)
        print(
            f"{name:<26}{min(mine):>12,.0f} / {statistics.median(mine):>9,.0f}"
            f"{min(theirs):>14,.0f} / {statistics.median(theirs):>9,.0f} ({label})"
            f"{statistics.median(ratios):>10.2f}{target:>8.2f}"
            f"{'' if statistics.median(ratios) >= target else '  missed'}"
        )
        if statistics.median(ratios) < target:
            missed.append((name, ours))
    for name, ours in missed if args.profile_lines else ():
        print(f"\n{name}: where the time goes (cProfile, own time, {args.profile_lines} lines)")
        print(_profile(ours, args.profile_lines))
    return 0


def _profile(operation: Callable[[], None], lines: int) -> str:
    """The functions ``operation`` spends its own time in, most first."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(300):
        operation()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    return text[text.index("   ncalls") :].rstrip()


if __name__ == "__main__":
    raise SystemExit(main())
