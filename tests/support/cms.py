"""CMS edits the tests share: re-sign a message after its signed attributes changed."""

from __future__ import annotations

from asn1crypto import cms

from pyscep._asn1 import ScepAttributes
from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.crypto import load_signer
from pyscep.testing import DemoIdentity


def resign(message: bytes, client: DemoIdentity, mutate_attrs: object) -> bytes:
    """Re-sign a message after ``mutate_attrs`` rewrote its signed attribute bytes."""
    info = cms.ContentInfo.load(message)
    signer_info = info["content"]["signer_infos"][0]
    attrs_der = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    new_attrs = mutate_attrs(attrs_der)  # type: ignore[operator]
    signer = load_signer(client.key_der, client.certificate)
    signature = signer.sign(new_attrs, DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    if len(new_attrs) == len(attrs_der):
        # Splice the bytes: re-encoding through asn1crypto would re-sort the SET.
        old_signature = bytes(signer_info["signature"].native)
        return message.replace(b"\xa0" + attrs_der[1:], b"\xa0" + new_attrs[1:]).replace(
            old_signature, signature
        )
    loaded = ScepAttributes.load(new_attrs)
    signer_info["signed_attrs"] = loaded
    signer_info["signature"] = signature
    return bytes(info.dump(force=True))
