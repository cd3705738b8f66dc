"""A SoftHSM2 token for the tests of keys that stay in a token (Debian's softhsm2).

SoftHSM reads its configuration (``SOFTHSM2_CONF``) once per process, when the
module is loaded: a process makes its tokens first, then loads it. Keys are made
inside the token (``generate``), sensitive and not extractable, so they exist
nowhere else; their certificates are signed through the token too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import keys

from pyscep import Certificate
from pyscep.messages import issue_certificate, self_signed_certificate
from pyscep.server.pkcs11 import Pkcs11Key, Pkcs11URI

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "8642-pyscep"


@dataclass(frozen=True)
class Token:
    """A SoftHSM2 token with its configuration, and a file holding its user PIN."""

    conf: Path
    label: str
    pin_file: Path

    def uri(self, label: str, *, pin_in_uri: bool = True) -> str:
        """The RFC 7512 URI of the private key ``label`` in this token."""
        pin = f"&pin-source=file:{self.pin_file}" if pin_in_uri else ""
        return f"pkcs11:token={self.label};object={label}?module-path={MODULE}{pin}"

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs to find this token."""
        return {"SOFTHSM2_CONF": str(self.conf)}


def make_token(directory: Path, label: str = "scep") -> Token:
    """A new, initialised token in ``directory`` (its own SoftHSM2 configuration)."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    pin_file = directory / "pin"
    # Created readable by its owner only, as a PIN file must be (no window at 0644).
    descriptor = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as opened:
        opened.write(PIN + "\n")
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "97531",
         "--pin", PIN],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return Token(conf, label, pin_file)


def generate(
    token: Token, label: str, kind: str = "rsa", *, key_id: bytes = b"", usage: str = "both"
) -> bytes:
    """A key pair made inside the token (the private key sensitive, never extractable;
    ``usage`` ``sign-only`` or ``decrypt-only`` clears CKA_DECRYPT or CKA_SIGN); the public
    key's DER SubjectPublicKeyInfo. Made by another process, so that this one's login to
    the token is pyscep's own (a login belongs to the process)."""
    made = subprocess.run(
        [sys.executable, "-m", "tests.support.softhsm", "generate", label, kind,
         key_id.hex(), usage],
        env={**os.environ, **token.environment, "PYSCEP_TOKEN": token.label},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return bytes.fromhex(made.stdout.strip())


def private_attributes(token: Token, label: str) -> dict[str, bool]:
    """What the token says of a private key: sensitive, extractable (asked by another
    process, as for `generate`)."""
    asked = subprocess.run(
        [sys.executable, "-m", "tests.support.softhsm", "attributes", label],
        env={**os.environ, **token.environment, "PYSCEP_TOKEN": token.label},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    sensitive, extractable = asked.stdout.split()
    return {"sensitive": sensitive == "True", "extractable": extractable == "True"}


def _generate_here(token_label: str, label: str, kind: str, key_id: bytes, usage: str) -> bytes:
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import encode_rsa_public_key

    private_template: dict[Any, Any] = {
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: usage != "decrypt-only",
        Attribute.DECRYPT: usage != "sign-only" and kind == "rsa",
    }
    if key_id:
        private_template[Attribute.ID] = key_id
    token = pkcs11.lib(str(MODULE)).get_token(token_label=token_label)
    with token.open(rw=True, user_pin=PIN) as session:
        if kind == "rsa":
            public, _ = session.generate_keypair(
                KeyType.RSA, 2048, store=True, label=label, private_template=private_template
            )
            spki = keys.PublicKeyInfo(
                {"algorithm": {"algorithm": "rsa"},
                 "public_key": keys.RSAPublicKey.load(encode_rsa_public_key(public))}
            )  # fmt: skip
            return bytes(spki.dump())
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )  # fmt: skip
        public, _ = parameters.generate_keypair(
            store=True, label=label, private_template=private_template
        )
        return bytes(encode_ec_public_key(public))


def _attributes_here(token_label: str, label: str) -> tuple[bool, bool]:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    token = pkcs11.lib(str(MODULE)).get_token(token_label=token_label)
    with token.open(user_pin=PIN) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        return bool(key[Attribute.SENSITIVE]), bool(key[Attribute.EXTRACTABLE])


def token_ca(
    token: Token, label: str, subject: str, *, now: datetime
) -> tuple[Pkcs11Key, Certificate]:
    """A CA whose key is made in the token and signs its own certificate there."""
    spki = generate(token, label)
    uri = Pkcs11URI.parse(token.uri(label))
    key = Pkcs11Key(uri, public_key_der=spki, pin=PIN)
    return key, self_signed_certificate(key, subject, now=now, days=30, ca=True)


def token_ra(token: Token, label: str, ca: Any, *, now: datetime) -> tuple[Pkcs11Key, Certificate]:
    """An RA certificate for a key made in the token, issued by ``ca`` (a Signer)."""
    from pyscep.messages import build_csr

    spki = generate(token, label)
    key = Pkcs11Key(Pkcs11URI.parse(token.uri(label)), public_key_der=spki, pin=PIN)
    return key, issue_certificate(ca, build_csr(key, f"CN={label}"), now=now, days=30)


if __name__ == "__main__":
    action, key_label = sys.argv[1], sys.argv[2]
    if action == "generate":
        made = _generate_here(
            os.environ["PYSCEP_TOKEN"], key_label, sys.argv[3], bytes.fromhex(sys.argv[4]),
            sys.argv[5],
        )  # fmt: skip
        print(made.hex())
    else:
        print(*_attributes_here(os.environ["PYSCEP_TOKEN"], key_label))
