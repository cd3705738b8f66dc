"""PRIVATE: reading the CMS identifiers that name a certificate (signer or recipient)."""

from __future__ import annotations

from asn1crypto import core

__all__ = ["read_identifier"]


def read_identifier(identifier: core.Choice) -> tuple[bytes | None, int | None, bytes | None]:
    """(issuer DER, serial, None) or (None, None, subject key identifier).

    SignerIdentifier, RecipientIdentifier and KeyAgreeRecipientIdentifier all
    name a certificate by IssuerAndSerialNumber or by SubjectKeyIdentifier
    (bare, or inside a RecipientKeyIdentifier). Call inside a parse boundary.
    """
    if identifier.name == "issuer_and_serial_number":
        issuer = identifier.chosen["issuer"]
        issuer.native  # noqa: B018 - materialise inside the boundary
        return bytes(issuer.dump()), int(identifier.chosen["serial_number"].native), None
    chosen = identifier.chosen
    if isinstance(chosen, core.Sequence):  # RecipientKeyIdentifier
        chosen = chosen["subject_key_identifier"]
    return None, None, bytes(chosen.native)
