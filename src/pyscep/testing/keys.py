"""The fixed, public test identities shipped in ``pyscep/testing/data``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from pyscep.certificate import Certificate
from pyscep.crypto import Decrypter, Signer, load_decrypter, load_signer

__all__ = ["FixedKeys", "fixed_keys"]


@dataclass(frozen=True)
class FixedKeys:
    """A test CA, a test client (self-signed) and an EC identity, with signers and decrypters."""

    ca: Certificate
    ca_key: bytes
    client: Certificate
    client_key: bytes
    ca_signer: Signer
    ca_decrypter: Decrypter
    client_signer: Signer
    client_decrypter: Decrypter
    #: A P-256 identity (the key of tests/vectors/recipients' P-256 certificate), for
    #: key agreement.
    ec: Certificate
    ec_decrypter: Decrypter


@cache
def fixed_keys() -> FixedKeys:
    """Load the test identities once (they never change)."""
    data = resources.files("pyscep.testing") / "data"

    def read(name: str) -> bytes:
        return (data / name).read_bytes()

    ca, ca_key = Certificate.load(read("ca.crt.der")), read("ca.key.der")
    client, client_key = Certificate.load(read("client.crt.der")), read("client.key.der")
    ec, ec_key = Certificate.load(read("ec.crt.der")), read("ec.key.der")
    return FixedKeys(
        ca=ca,
        ca_key=ca_key,
        client=client,
        client_key=client_key,
        ca_signer=load_signer(ca_key, ca),
        ca_decrypter=load_decrypter(ca_key, ca),
        client_signer=load_signer(client_key, client),
        client_decrypter=load_decrypter(client_key, client),
        ec=ec,
        ec_decrypter=load_decrypter(ec_key, ec),
    )
