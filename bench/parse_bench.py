"""Parse time and memory on growing hostile inputs: both must grow linearly.

    .venv/bin/python bench/parse_bench.py

For each family of hostile input and each size, prints the time to reach a
result or a ScepError (best of 3), time per KiB, and the peak of Python
allocations (tracemalloc) as a multiple of the input size. Linear parsing
shows as a flat time-per-KiB column; bounded memory as a small, flat
peak/input column. Inputs over the limits are refused by the pre-scan in
time proportional to what it read. For contrast, the last family feeds
asn1crypto a long-form tag directly (quadratic without pyscep's cap).
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Callable

from asn1crypto import core

from pyscep._der_writer import tlv
from pyscep.errors import ScepError
from pyscep.messages.pkimessage import parse_pki_message
from pyscep.testing import fixed_keys
from pyscep.testing._csr import client_csr


def big_message(size: int) -> bytes:
    """A valid request whose CSR carries ``size`` bytes of padding in an attribute."""
    from pyscep.enums import MessageType
    from pyscep.messages.build import build_request

    keys = fixed_keys()
    return build_request(
        MessageType.PKCS_REQ,
        client_csr() + b"\x00" * size,
        signer=keys.client_signer,
        recipient=keys.ca,
        transaction_id="bench",
    ).der


FAMILIES: dict[str, tuple[Callable[[int], bytes], list[int]]] = {
    "valid request, growing content": (big_message, [2**k for k in range(12, 20, 2)]),
    "SET OF n NULLs (limit 20 000 elements)": (
        lambda n: tlv(0x31, b"\x05\x00" * n),
        [1_000, 4_000, 16_000, 64_000, 256_000],
    ),
    "n nested SEQUENCEs (limit depth 32)": (lambda n: _nested(n), [100, 1_000, 10_000, 100_000]),
    "long-form tag of n octets (limit 4)": (
        lambda n: b"\x1f" + b"\x81" * n + b"\x01\x00",
        [1_000, 10_000, 100_000, 1_000_000],
    ),
    "OCTET STRING in n segments (limit 4096)": (
        lambda n: tlv(0x30, tlv(0x24, b"\x04\x01a" * n)),
        [100, 1_000, 4_000, 16_000],
    ),
    "declared length far beyond the data": (
        lambda n: b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * n,
        [1_000, 100_000, 1_000_000],
    ),
}


def _csr_extension(oid: str, value: bytes) -> bytes:
    """The test CSR with its attributes replaced by one requested extension, assembled
    as raw DER (asn1crypto would re-encode a value of a type it knows)."""
    from pyscep._der import read_header

    der = client_csr()
    top = read_header(der)
    info = read_header(der, top.content_start, top.content_end)
    parts, position = [], info.content_start
    while position < info.content_end:
        part = read_header(der, position, info.content_end)
        parts.append(der[part.start : part.end])
        position = part.end
    extension = tlv(0x30, core.ObjectIdentifier(oid).dump() + core.OctetString(value).dump())
    request_oid = core.ObjectIdentifier("1.2.840.113549.1.9.14").dump()
    attribute = tlv(0x30, request_oid + tlv(0x31, tlv(0x30, extension)))
    new_info = tlv(0x30, b"".join(parts[:3]) + tlv(0xA0, attribute))
    return tlv(0x30, new_info + der[info.end : top.content_end])


def _csr_load(data: bytes) -> object:
    from pyscep.messages import CertificationRequest

    return CertificationRequest.load(data)


def _get(data: bytes) -> object:
    from pyscep.http import decode_get_message

    return decode_get_message(data.decode("ascii"))


#: Inputs on other paths than a pkiMessage (issue 9): DER inside strings, GET values.
OTHER_PATHS: dict[str, tuple[Callable[[int], bytes], list[int], Callable[[bytes], object]]] = {
    "CSR extension holding n NULLs (counted inside the OCTET STRING)": (
        lambda n: _csr_extension("1.2.3.4", tlv(0x30, b"\x05\x00" * n)),
        [1_000, 10_000, 100_000, 300_000],
        _csr_load,
    ),
    "CSR with n dNSNames (limit 1 024)": (
        lambda n: _csr_extension("2.5.29.17", tlv(0x30, tlv(0x82, b"a.b") * n)),
        [100, 1_000, 10_000, 120_000],
        _csr_load,
    ),
    "CSR keyUsage of n bytes (limit 64)": (
        lambda n: _csr_extension("2.5.29.15", tlv(0x03, b"\x00" + b"\xff" * n)),
        [2, 1_000, 100_000, 600_000],
        _csr_load,
    ),
    "GET message= of n escaped %2B": (
        lambda n: b"%2B" * n,
        [1_000, 100_000, 699_050],
        _get,
    ),
}


def _nested(depth: int) -> bytes:
    data = b"\x05\x00"
    for _ in range(depth):
        data = tlv(0x30, data)
    return data


def measure(data: bytes, parse: Callable[[bytes], object]) -> tuple[float, int, str]:
    best = float("inf")
    outcome = "parsed"
    for _ in range(3):
        start = time.perf_counter()
        try:
            parse(data)
        except ScepError as exc:
            outcome = type(exc).__name__
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    with contextlib.suppress(ScepError):
        parse(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, outcome


def main() -> None:
    fixed_keys()
    header = f"{'input':>10} {'time':>10} {'us/KiB':>8} {'peak/input':>10}  outcome"
    pki_message: Callable[[bytes], object] = parse_pki_message
    families = [(name, make, sizes, pki_message) for name, (make, sizes) in FAMILIES.items()]
    families += [(name, *rest) for name, rest in OTHER_PATHS.items()]
    for family, make, sizes, parse in families:
        print(f"\n{family}\n{header}")
        for size in sizes:
            data = make(size)
            seconds, peak, outcome = measure(data, parse)
            per_kib = seconds * 1e6 / (len(data) / 1024)
            print(
                f"{len(data):>10} {seconds * 1e3:>8.2f}ms {per_kib:>8.1f}"
                f" {peak / len(data):>10.2f}  {outcome}"
            )
    print("\nasn1crypto alone on a long-form tag (what the 4-octet cap prevents)")
    print(f"{'tag octets':>10} {'time':>10}")
    for size in (5_000, 10_000, 20_000, 40_000):
        data = b"\x1f" + b"\x81" * size + b"\x01\x00"
        start = time.perf_counter()
        with contextlib.suppress(ValueError):
            core.load(data)
        print(f"{size:>10} {(time.perf_counter() - start) * 1e3:>8.1f}ms")


if __name__ == "__main__":
    main()
