"""The test client's PKCS#10 request (built once)."""

from __future__ import annotations

from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AttributeOID, NameOID

from pyscep.testing.keys import fixed_keys

__all__ = ["client_csr"]


@cache
def client_csr() -> bytes:
    """A CSR for the test client's key with challengePassword ``pyscep-testing``."""
    key = serialization.load_der_private_key(fixed_keys().client_key, None)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyscep testing client")]))
        .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b"pyscep-testing")
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return bytes(request.public_bytes(serialization.Encoding.DER))
