"""PRIVATE: ContentInfo(EnvelopedData) read by the DER fast path (`pyscep._der_reader`).

`read_enveloped_data` gives the same `ParsedEnvelope` as the asn1crypto path
for canonical DER with key-transport recipients (RSA PKCS#1 v1.5) and a CBC
cipher whose parameter is its IV, and raises `NotCanonicalError` for everything
else (key agreement, passwords, OAEP parameters, segmented content...).
"""

from __future__ import annotations

from asn1crypto import algos, cms

from pyscep._der_reader import NotCanonicalError, Reader, content_type_name, oid_octets

from .values import MAX_RECIPIENTS, ParsedEnvelope, RecipientView

__all__ = ["read_enveloped_data"]

_ENVELOPED_DATA = oid_octets("1.2.840.113549.1.7.3")
_RSA_PKCS1V15 = oid_octets(cms.KeyEncryptionAlgorithmId.unmap("rsaes_pkcs1v15"))
# OID content octets -> (asn1crypto name, dotted form), for the ciphers whose parameter is the IV.
_CIPHERS = {
    oid_octets(dotted): (name, dotted)
    for name, dotted in (
        (name, algos.EncryptionAlgorithmId.unmap(name))
        for name in ("des", "tripledes_3key", "aes128_cbc", "aes192_cbc", "aes256_cbc")
    )
}


def read_enveloped_data(reader: Reader) -> ParsedEnvelope:
    """The EnvelopedData of a ContentInfo in canonical DER; NotCanonicalError otherwise."""
    body, body_end = reader.content_info(_ENVELOPED_DATA)
    version, cursor = reader.version(body, body_end, 4)
    infos_start, infos_end = reader.element(cursor, body_end, 0x31, 4)
    recipients: list[RecipientView] = []
    cursor = infos_start
    while cursor < infos_end:
        if len(recipients) == MAX_RECIPIENTS:
            raise NotCanonicalError
        recipient, cursor = _key_transport(reader, cursor, infos_end)
        recipients.append(recipient)
    if not recipients:
        raise NotCanonicalError
    info_start, info_end = reader.element(infos_end, body_end, 0x30, 4)
    if info_end != body_end:
        raise NotCanonicalError  # unprotectedAttrs: left to asn1crypto
    encrypted_type, cursor = reader.oid(info_start, info_end, 5)
    algorithm_start, algorithm_end = reader.element(cursor, info_end, 0x30, 5)
    cipher_oid, cursor = reader.oid(algorithm_start, algorithm_end, 6)
    cipher = _CIPHERS.get(cipher_oid)
    if cipher is None:
        raise NotCanonicalError
    iv, cursor = reader.octets(cursor, algorithm_end, 6)
    if cursor != algorithm_end:
        raise NotCanonicalError
    encrypted_content = None
    if algorithm_end < info_end:
        encrypted_content, cursor = reader.octets(algorithm_end, info_end, 5, tag=0x80)
        if cursor != info_end:
            raise NotCanonicalError
    return ParsedEnvelope(
        version=version,
        recipients=tuple(recipients),
        content_type=content_type_name(encrypted_type),
        cipher_name=cipher[0],
        cipher_oid=cipher[1],
        iv=iv,
        encrypted_content=encrypted_content,
        encrypted_content_constructed=False,
    )


def _key_transport(reader: Reader, position: int, end: int) -> tuple[RecipientView, int]:
    """One KeyTransRecipientInfo (RSA PKCS#1 v1.5); NotCanonicalError for other kinds."""
    start, stop = reader.element(position, end, 0x30, 5)
    version, cursor = reader.version(start, stop, 6)
    issuer_der, serial, key_identifier, rid_end = reader.identifier(cursor, stop, 6)
    algorithm, null, cursor = reader.algorithm(rid_end, stop, 6)
    if algorithm != _RSA_PKCS1V15:
        raise NotCanonicalError
    encrypted_key, cursor = reader.octets(cursor, stop, 6)
    if cursor != stop:
        raise NotCanonicalError
    view = RecipientView(
        kind="ktri",
        version=version,
        issuer_der=issuer_der,
        serial=serial,
        key_identifier=key_identifier,
        key_encryption_algorithm="rsaes_pkcs1v15",
        key_encryption_parameters="NULL" if null else "absent",
        encrypted_key=encrypted_key,
    )
    return view, stop
