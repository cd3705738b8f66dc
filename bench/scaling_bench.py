"""Scaling: time per element and peak memory as messages grow (issue: performance).

    python bench/scaling_bench.py

- certs-only SignedData (a GetCACert body) with 1 to 64 certificates, read
  by `parse_certs_only` (64 is the most a SignedData may carry: a hostile-input
  bound, `pyscep.cms.signed.MAX_CERTIFICATES`);
- a CertRep SUCCESS carrying a CRL of 10 to 100,000 entries (a GetCRL reply),
  read by a client: parse, verify, decrypt, the certs-only content.

For each size: the input size, microseconds per element, and the tracemalloc
peak as a multiple of the input size. Linear time shows as a flat
microseconds-per-element column, linear memory as a flat multiple. Inputs
beyond the default limits (1 MiB, 20,000 elements) are read with limits
raised to fit: the limits, not the algorithms, are what refuse them by default.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import pyscep
from pyscep.cms.degenerate import build_certs_only, parse_certs_only
from pyscep.cms.signed import MAX_CERTIFICATES
from pyscep.limits import Limits
from pyscep.messages import (
    CertsOnly,
    ReplyTo,
    build_cert_rep_success,
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
)
from pyscep.testing import make_identity

NOW = datetime.now(timezone.utc)
CA = make_identity("Scaling CA", now=NOW, ca=True)
CLIENT = make_identity("scaling client", now=NOW)
ROOMY = Limits(max_size=64 << 20, max_depth=32, max_elements=5_000_000)


def _measure(operation: Callable[[], object], size: int) -> tuple[float, float]:
    """(seconds per run, tracemalloc peak / input size) of ``operation``."""
    runs, start = 0, time.perf_counter()
    while True:
        operation()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed > 0.3:
            break
    tracemalloc.start()
    try:
        operation()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return elapsed / runs, peak / size


def _certificates(count: int) -> list[pyscep.Certificate]:
    key = serialization.load_der_private_key(CA.key_der, None)
    issuer = CA.certificate.to_cryptography()
    public = serialization.load_der_private_key(CLIENT.key_der, None).public_key()
    out = []
    for serial in range(1, count + 1):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string(f"CN=device {serial}"))
            .issuer_name(issuer.subject)
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(serial)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=30))
        )
        out.append(pyscep.Certificate.load(builder.sign(key, hashes.SHA256())))  # type: ignore[arg-type]
    return out


def _crl(entries: int) -> bytes:
    key = serialization.load_der_private_key(CA.key_der, None)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CA.certificate.to_cryptography().subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=7))
    )
    for serial in range(1, entries + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build()
        )
    return bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))  # type: ignore[arg-type]


def main() -> int:
    print(f"{'input':<40}{'bytes':>12}{'ms':>10}{'us/element':>12}{'peak/input':>12}")
    certificates = _certificates(MAX_CERTIFICATES)
    for count in (1, 4, 16, 32, MAX_CERTIFICATES):
        der = build_certs_only(certificates[:count])
        seconds, memory = _measure(lambda der=der: parse_certs_only(der), len(der))  # type: ignore[misc]
        print(
            f"{f'certs-only, {count} certificates':<40}{len(der):>12,}{seconds * 1e3:>10.3f}"
            f"{seconds / count * 1e6:>12.1f}{memory:>12.1f}"
        )
    request = parse_pki_message(
        pyscep.messages.build_pkcs_req(
            pyscep.messages.build_csr(pyscep.load_private_key(CLIENT.key_der), "CN=scaling client"),
            signer=CLIENT.signer,
            recipient=CA.certificate,
        ).der
    )
    reply_to = ReplyTo.of(pyscep.messages.verify_request(request))
    decrypter = CLIENT.decrypter  # loaded once: loading an RSA key is not what is measured
    for entries in (10, 100, 1_000, 10_000, 100_000):
        reply = build_cert_rep_success(reply_to, crls=[_crl(entries)], signer=CA.signer)

        def client(reply: bytes = reply) -> int:
            message = verify_cert_rep(
                parse_pki_message(reply, limits=ROOMY), ca_certificates=[CA.certificate]
            )
            content = decrypt_pki_message(message, decrypter, limits=ROOMY)
            assert isinstance(content, CertsOnly)
            return len(content.crls)

        seconds, memory = _measure(client, len(reply))
        print(
            f"{f'CertRep with a CRL of {entries:,} entries':<40}{len(reply):>12,}"
            f"{seconds * 1e3:>10.3f}{seconds / entries * 1e6:>12.2f}{memory:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
