"""The SCEP message layer: every pkiMessage, CertRep and CA payload, built and parsed.

Three explicit steps for a received pkiMessage: `parse_pki_message` (bytes to
an `UnverifiedPKIMessage`), `verify_request` / `verify_cert_rep` (to a
`PKIMessage`), `decrypt_pki_message` (to the typed content). `open_request`
and `open_cert_rep` do all three. Builders take one `MessageOptions` value.
`build_csr`, `self_signed_signer` and `issue_certificate` (a `KeyToCertify` for
a key that signs no request: ML-KEM) make what a client and a CA need around
the messages; `pyscep.messages.reply_key` is the ML-KEM reply key a signing-only
requester may name (the post-quantum profile). `pyscep.messages.inspect` describes any
payload (``pyscep inspect``).
"""

from __future__ import annotations

from pyscep.cms.degenerate import CertsOnly
from pyscep.findings import Finding, FindingCode
from pyscep.limits import DEFAULT_LIMITS, Limits
from pyscep.messages.attributes import ScepAttributes, decode_attributes, encode_attributes
from pyscep.messages.build import (
    BuiltRequest,
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
    CA_CERT_CONTENT_TYPE,
    CA_RA_CERT_CONTENT_TYPE,
    NEXT_CA_CERT_CONTENT_TYPE,
    CACertificates,
    build_ca_certificates,
    build_next_ca_certificates,
    parse_ca_certificates,
    parse_next_ca_certificates,
)
from pyscep.messages.caps import CACaps, Negotiated, negotiate
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.crl import CRLFacts, RevokedCertificate, build_crl, crl_to_pem, read_crl
from pyscep.messages.identifiers import new_nonce, transaction_id_for_key
from pyscep.messages.identity import (
    END_ENTITY_KEY_USAGES,
    SUBJECT_ALT_NAME_KINDS,
    KeyToCertify,
    build_csr,
    carries_sid,
    extended_key_purpose,
    issue_certificate,
    self_signed_certificate,
    self_signed_signer,
    writable_subject_alt_name,
)
from pyscep.messages.options import DEFAULT_OPTIONS, MessageOptions
from pyscep.messages.pkimessage import (
    DecryptedContent,
    PKIMessage,
    PSSParameters,
    RequestReference,
    SignerIdentifier,
    UnverifiedPKIMessage,
    decrypt_pki_message,
    issued_certificate,
    open_cert_rep,
    open_request,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from pyscep.messages.policy_view import policy_request_view
from pyscep.messages.reply import ReplyTo

__all__ = [
    "CA_CERT_CONTENT_TYPE",
    "CA_RA_CERT_CONTENT_TYPE",
    "DEFAULT_LIMITS",
    "DEFAULT_OPTIONS",
    "END_ENTITY_KEY_USAGES",
    "NEXT_CA_CERT_CONTENT_TYPE",
    "SUBJECT_ALT_NAME_KINDS",
    "BuiltRequest",
    "CACaps",
    "CACertificates",
    "CRLFacts",
    "CertificationRequest",
    "CertsOnly",
    "DecryptedContent",
    "Finding",
    "FindingCode",
    "IssuerAndSerial",
    "IssuerAndSubject",
    "KeyToCertify",
    "Limits",
    "MessageOptions",
    "Negotiated",
    "PKIMessage",
    "PSSParameters",
    "ReplyTo",
    "RequestReference",
    "RevokedCertificate",
    "ScepAttributes",
    "SignerIdentifier",
    "UnverifiedPKIMessage",
    "build_ca_certificates",
    "build_cert_poll",
    "build_cert_rep_failure",
    "build_cert_rep_pending",
    "build_cert_rep_success",
    "build_crl",
    "build_csr",
    "build_get_cert",
    "build_get_crl",
    "build_next_ca_certificates",
    "build_pkcs_req",
    "build_request",
    "carries_sid",
    "crl_to_pem",
    "decode_attributes",
    "decrypt_pki_message",
    "encode_attributes",
    "extended_key_purpose",
    "issue_certificate",
    "issued_certificate",
    "negotiate",
    "new_nonce",
    "open_cert_rep",
    "open_request",
    "parse_ca_certificates",
    "parse_next_ca_certificates",
    "parse_pki_message",
    "policy_request_view",
    "read_crl",
    "self_signed_certificate",
    "self_signed_signer",
    "transaction_id_for_key",
    "verify_cert_rep",
    "verify_request",
    "writable_subject_alt_name",
]
