"""asn1crypto, the differential oracle of pyscep's DER writer (tests only).

These are the builders as they were written with asn1crypto objects before
the writer (`pyscep._der_writer`) replaced them on the hot path. The tests
build the same structures both ways and compare the bytes.
"""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from asn1crypto import algos, cms, core, crl, keys, x509
from cryptography import x509 as cx509

from pyscep._asn1 import ScepAttribute, ScepAttributes
from pyscep._boundary import field as parse_field
from pyscep.algorithms import (
    AlgorithmPolicy,
    DigestAlgorithm,
    KeyTransport,
    SignatureScheme,
)
from pyscep.certificate import Certificate

# The algorithm identifiers are asn1crypto objects in pyscep too: shared, not copied.
# So are the steps before encoding (choosing, checking, encrypting): called, not copied.
from pyscep.cms.enveloped import _key_transport_algorithm, _transported_key
from pyscep.cms.signed import _signature_algorithm, _signing_choice
from pyscep.crypto import CryptoBackend, PrivateKey, Rng, Signer
from pyscep.messages import identity
from pyscep.messages.attributes import attribute_list


def attribute_ders(attributes):
    return [bytes(a.dump()) for a in attribute_list(attributes)]


def enveloped_ktri(
    content,
    recipient,
    *,
    cipher,
    backend,
    algorithms,
    key_transport=KeyTransport.RSA_PKCS1V15,
    rng=None,
):
    random = rng or backend.random_bytes
    key = random(cipher.key_size)
    iv = random(cipher.block_size)
    ciphertext = backend.encrypt_content(cipher, key, iv, content)
    info = _key_transport_recipient(recipient, key, backend, algorithms, key_transport, rng)
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [info],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": cipher.value,
                    "parameters": core.OctetString(iv),
                },
                "encrypted_content": ciphertext,
            },
        }
    )
    return bytes(cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump())


field = parse_field


def _attribute(type_name: str, value: core.Asn1Value) -> ScepAttribute:
    return ScepAttribute({"type": type_name, "values": [value]})


def build_signed_data(
    content: bytes | None,
    signer: Signer,
    *,
    digest: DigestAlgorithm,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    scheme: SignatureScheme | None = None,
    attributes: Sequence[bytes] = (),
    certificates: Sequence[Certificate] | None = None,
    signing_time: datetime | None = None,
    rsa_digest_in_signature_oid: bool = False,
) -> bytes:
    """`pyscep.cms.signed.build_signed_data`, in asn1crypto objects."""
    signer_certificate = signer.certificate
    scheme, digest = _signing_choice(signer_certificate, scheme, digest, algorithms)
    message_digest = backend.digest(digest, content or b"")
    all_attributes = [
        _attribute("content_type", cms.ContentType("data")),
        _attribute("message_digest", core.OctetString(message_digest)),
    ]
    if signing_time is not None:
        all_attributes.append(_attribute("signing_time", cms.Time({"utc_time": signing_time})))
    with parse_field("attributes"):
        all_attributes.extend(ScepAttribute.load(der, strict=True) for der in attributes)
    signed_attrs = ScepAttributes(all_attributes)
    signed_attrs_der = signed_attrs.dump()
    signature = signer.sign(signed_attrs_der, digest, scheme)

    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": x509.Name.load(signer_certificate.issuer_der),
                            "serial_number": signer_certificate.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": {"algorithm": digest.value},
            "signed_attrs": signed_attrs,
            "signature_algorithm": _signature_algorithm(
                scheme, digest, digest_in_oid=rsa_digest_in_signature_oid
            ),
            "signature": signature,
        }
    )
    embedded = [signer_certificate] if certificates is None else list(certificates)
    encap: dict[str, object] = {"content_type": "data"}
    if content is not None:
        encap["content"] = core.OctetString(content)
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest.value}],
            "encap_content_info": cms.ContentInfo(encap),
            "certificates": [x509.Certificate.load(cert.der) for cert in embedded] or None,
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def build_certs_only(certificates: Sequence[Certificate], crls: Sequence[bytes] = ()) -> bytes:
    """DER ContentInfo(SignedData) with the given certificates and CRLs and no signer."""
    with field("CRL"):
        crl_values = [crl.CertificateList.load(der, strict=True) for der in crls]
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": [x509.Certificate.load(c.der) for c in certificates] or None,
            "crls": crl_values or None,
            "signer_infos": [],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def _key_transport_recipient(
    recipient: Certificate,
    key: bytes,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    key_transport: KeyTransport,
    rng: Rng | None,
) -> cms.RecipientInfo:
    encrypted_key = _transported_key(recipient, key, backend, algorithms, key_transport, rng)
    return cms.RecipientInfo(
        {
            "ktri": cms.KeyTransRecipientInfo(
                {
                    "version": "v0",
                    "rid": cms.RecipientIdentifier(
                        {
                            "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                                {
                                    "issuer": x509.Name.load(recipient.issuer_der),
                                    "serial_number": recipient.serial_number,
                                }
                            )
                        }
                    ),
                    "key_encryption_algorithm": _key_transport_algorithm(key_transport),
                    "encrypted_key": encrypted_key,
                }
            )
        }
    )


def reference_certificate(
    *,
    issuer_key: PrivateKey | Signer,
    issuer_spki: keys.PublicKeyInfo,
    issuer_name: x509.Name,
    subject_name: x509.Name,
    subject_spki: keys.PublicKeyInfo,
    serial_number: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    key_usage: set[str],
    digest: DigestAlgorithm,
    subject_alt_names: Sequence[x509.GeneralName] = (),
    crl_urls: Sequence[str] = (),
    extended_key_usage: Sequence[str] = (),
    access: Sequence[tuple[str, str]] = (),
    sid: str | None = None,
) -> Certificate:
    """The certificate as pyscep wrote it with asn1crypto objects: the oracle of
    `pyscep.messages.identity`'s DER writer (the same bytes, signature included)."""
    subject_key_id = identity._key_identifier(subject_spki)
    authority_key_id = identity._key_identifier(issuer_spki)
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": key_usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": subject_key_id},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": authority_key_id},
        },
    ]
    if subject_alt_names:
        extensions.append(
            {
                "extn_id": "subject_alt_name",
                "critical": False,
                "extn_value": x509.GeneralNames(list(subject_alt_names)),
            }
        )
    if crl_urls:
        full_name = [
            x509.GeneralName(name="uniform_resource_identifier", value=u) for u in crl_urls
        ]
        extensions.append(
            {
                "extn_id": "crl_distribution_points",
                "critical": False,
                "extn_value": [{"distribution_point": {"full_name": full_name}}],
            }
        )
    if extended_key_usage:
        extensions.append(
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": extended_key_usage}
        )
    if access:
        extensions.append(
            {
                "extn_id": "authority_information_access",
                "critical": False,
                "extn_value": [
                    {
                        "access_method": method,
                        "access_location": x509.GeneralName(
                            name="uniform_resource_identifier", value=url
                        ),
                    }
                    for method, url in access
                ],
            }
        )
    if sid is not None:
        # The SID extension, as AD CS writes it: GeneralNames holding one otherName.
        # Encoded by pyca/cryptography (asn1crypto drops the otherName value's explicit
        # tag when it builds one).
        other_name = cx509.OtherName(
            cx509.ObjectIdentifier("1.3.6.1.4.1.311.25.2.1"),
            bytes(core.OctetString(sid.encode()).dump()),
        )
        names = cx509.SubjectAlternativeName([other_name]).public_bytes()
        extensions.append(
            {
                "extn_id": "1.3.6.1.4.1.311.25.2",
                "critical": False,
                "extn_value": core.ParsableOctetString(names),
            }
        )
    signature_algorithm = algos.SignedDigestAlgorithm.load(identity._algorithm(issuer_spki, digest))
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial_number,
            "signature": signature_algorithm,
            "issuer": issuer_name,
            "validity": {
                "not_before": identity._utc(not_before),
                "not_after": identity._utc(not_after),
            },
            "subject": subject_name,
            "subject_public_key_info": subject_spki,
            "extensions": extensions,
        }
    )
    _, signature = identity._sign(issuer_key, issuer_spki, bytes(tbs.dump()), digest)
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": signature,
        }
    )
    return Certificate.load(bytes(certificate.dump()))
