"""The builders of the bad-input catalog: a valid request, and the edits that break one thing.

Shared by tests/test_codec_hostile_catalog.py and tests/test_cms_no_decryption_oracle.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import cms, core, x509

from pyscep import (
    DEFAULT_POLICY,
    get_backend,
)
from pyscep._asn1 import ScepAttribute, ScepAttributes
from pyscep._der import der_length
from pyscep.algorithms import ContentCipher, DigestAlgorithm, SignatureScheme
from pyscep.cms.enveloped import build_enveloped_data
from pyscep.testing import SeededBackend, fixed_keys
from pyscep.testing._csr import client_csr

KEYS = fixed_keys()
#: What any run may allocate whatever the input size (parse objects, key loading).
MEMORY_ALLOWANCE = 1 << 20
BACKEND = get_backend()
# The RFC 3218 fallback key is random: seeded, a case's outcome never depends on luck.
SEEDED = SeededBackend()


# Not SEEDED.random_bytes: the envelope's content key would then equal the
# fallback key, and a key-transport failure would decrypt successfully.
def fixed_rng(n: int) -> bytes:
    return (hashlib.sha256(n.to_bytes(4, "big")).digest() * (n // 32 + 1))[:n]


def envelope(content: bytes | None = None) -> bytes:
    """Deterministic (fixed rng), so building it twice gives the same bytes."""
    return build_enveloped_data(
        client_csr() if content is None else content,
        KEYS.ca,
        cipher=ContentCipher.AES128_CBC,
        backend=BACKEND,
        algorithms=DEFAULT_POLICY,
        rng=fixed_rng,
    )


def tlv(tag: int, *children: bytes) -> bytes:
    body = b"".join(children)
    return bytes([tag]) + der_length(len(body)) + body


def raw_attr(oid: str, value_der: bytes) -> ScepAttribute:
    """An attribute whose value has whatever encoding the test wants."""
    loaded: ScepAttribute = ScepAttribute.load(
        tlv(0x30, core.ObjectIdentifier(oid).dump(), tlv(0x31, value_der))
    )
    return loaded


def attr(kind: str, *values: core.Asn1Value) -> ScepAttribute:
    return ScepAttribute({"type": kind, "values": list(values)})


def scep_attrs(
    content: bytes,
    *,
    message_type: core.Asn1Value | None = None,
    txid: str | None = "TX-1",
    nonce: bytes | None = b"N" * 16,
    content_type: str | None = "data",
    digest: bytes | None = None,
    extra: tuple[ScepAttribute, ...] = (),
) -> list[ScepAttribute]:
    out = [attr("message_type", message_type or core.PrintableString("19"))]
    if txid is not None:
        out.append(attr("transaction_id", core.PrintableString(txid)))
    if nonce is not None:
        out.append(attr("sender_nonce", core.OctetString(nonce)))
    if content_type is not None:
        out.append(attr("content_type", cms.ContentType(content_type)))
    if digest != b"":
        out.append(
            attr(
                "message_digest",
                core.OctetString(
                    digest if digest is not None else hashlib.sha256(content).digest()
                ),
            )
        )
    return out + list(extra)


def assemble(
    content: bytes | None,
    attrs: list[ScepAttribute] | None = None,
    *,
    sort: bool = True,
    signer_infos: int = 1,
    digest_algorithms: tuple[str, ...] = ("sha256",),
    econtent_type: str = "data",
    signed_bytes: Callable[[bytes], bytes] | None = None,
    signature_algorithm: dict[str, object] | None = None,
    digest: str = "sha256",
    certificates: list[object] | None = None,
    version: str = "v1",
    sid: object = None,
    signed_attrs: bool = True,
) -> bytes:
    """A SignedData signed by the test client over exactly the attributes given."""
    attrs = scep_attrs(content or b"") if attrs is None else attrs
    if sort:
        set_der = ScepAttributes(attrs).dump()
    else:
        body = b"".join(a.dump() for a in attrs)
        set_der = b"\x31" + der_length(len(body)) + body
    to_sign = signed_bytes(set_der) if signed_bytes else set_der
    signature = KEYS.client_signer.sign(
        to_sign, DigestAlgorithm(digest), SignatureScheme.RSA_PKCS1V15
    )
    info = {
        "version": "v1",
        "sid": sid
        or cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": x509.Name.load(KEYS.client.issuer_der),
                    "serial_number": KEYS.client.serial_number,
                }
            }
        ),
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": signature_algorithm or {"algorithm": "rsassa_pkcs1v15"},
        "signature": signature,
    }
    if signed_attrs:
        info["signed_attrs"] = ScepAttributes.load(set_der)
    encap: dict[str, object] = {"content_type": econtent_type}
    if content is not None:
        encap["content"] = (
            core.OctetString(content) if version == "v1" else core.ParsableOctetString(content)
        )
    signed = cms.SignedData(
        {
            "version": version,
            "digest_algorithms": [{"algorithm": d} for d in digest_algorithms],
            "encap_content_info": encap,
            "certificates": [x509.Certificate.load(KEYS.client.der)]
            if certificates is None
            else certificates,
            "signer_infos": [cms.SignerInfo(info)] * signer_infos,
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def valid() -> bytes:
    env = envelope()
    return assemble(env, scep_attrs(env))


def with_envelope(edit: Callable[[cms.ContentInfo], None]) -> bytes:
    """A validly signed request whose (attacker-made) envelope was edited."""
    info = cms.ContentInfo.load(envelope())
    edit(info)
    env = bytes(info.dump(force=True))
    return assemble(env, scep_attrs(env))


def ktri(info: cms.ContentInfo) -> cms.KeyTransRecipientInfo:
    return info["content"]["recipient_infos"][0].chosen


def eci(info: cms.ContentInfo) -> cms.EncryptedContentInfo:
    return info["content"]["encrypted_content_info"]


def encrypted_key(key: bytes) -> bytes:
    from pyscep.algorithms import KeyTransport

    return BACKEND.encrypt_key(KEYS.ca.public_key_der, KeyTransport.RSA_PKCS1V15, key)


def set_ciphertext(info: cms.ContentInfo, ciphertext: bytes) -> None:
    eci(info)["encrypted_content"] = ciphertext


def for_someone_else() -> bytes:
    env = build_enveloped_data(
        client_csr(),
        KEYS.client,
        cipher=ContentCipher.AES128_CBC,
        backend=BACKEND,
        algorithms=DEFAULT_POLICY,
    )
    return assemble(env, scep_attrs(env))
