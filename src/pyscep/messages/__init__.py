"""The SCEP message layer: every pkiMessage, CertRep and CA payload, built and parsed.

Three explicit steps for a received pkiMessage: `parse_pki_message` (bytes to
an `UnverifiedPKIMessage`), `verify_request` / `verify_cert_rep` (to a
`PKIMessage`), `decrypt_pki_message` (to the typed content). `open_request`
and `open_cert_rep` do all three. Builders are in `pyscep.messages.build`.
"""

from __future__ import annotations

from pyscep.cms.degenerate import CertsOnly
from pyscep.messages.attributes import ScepAttributes, decode_attributes, encode_attributes
from pyscep.messages.build import (
    BuiltRequest,
    ReplyTo,
    build_cert_poll,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    build_get_cert,
    build_get_crl,
    build_pkcs_req,
    build_request,
)
from pyscep.messages.ca import (
    CACertificates,
    build_ca_certificates,
    build_next_ca_certificates,
    parse_ca_certificates,
    parse_next_ca_certificates,
)
from pyscep.messages.caps import CACaps, Negotiated, negotiate
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.findings import Finding, FindingCode
from pyscep.messages.identifiers import new_nonce, transaction_id_for_key
from pyscep.messages.pkimessage import (
    DecryptedContent,
    PKIMessage,
    RequestReference,
    UnverifiedPKIMessage,
    decrypt_pki_message,
    issued_certificate,
    open_cert_rep,
    open_request,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)

__all__ = [
    "BuiltRequest",
    "CACaps",
    "CACertificates",
    "CertificationRequest",
    "CertsOnly",
    "DecryptedContent",
    "Finding",
    "FindingCode",
    "IssuerAndSerial",
    "IssuerAndSubject",
    "Negotiated",
    "PKIMessage",
    "ReplyTo",
    "RequestReference",
    "ScepAttributes",
    "UnverifiedPKIMessage",
    "build_ca_certificates",
    "build_cert_poll",
    "build_cert_rep_failure",
    "build_cert_rep_pending",
    "build_cert_rep_success",
    "build_get_cert",
    "build_get_crl",
    "build_next_ca_certificates",
    "build_pkcs_req",
    "build_request",
    "decode_attributes",
    "decrypt_pki_message",
    "encode_attributes",
    "issued_certificate",
    "negotiate",
    "new_nonce",
    "open_cert_rep",
    "open_request",
    "parse_ca_certificates",
    "parse_next_ca_certificates",
    "parse_pki_message",
    "transaction_id_for_key",
    "verify_cert_rep",
    "verify_request",
]
