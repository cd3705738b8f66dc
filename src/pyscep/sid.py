"""Windows security identifiers (SIDs) in certificates: strong certificate mapping.

Since KB5014754 (enforced since September 2025) a domain controller maps a
certificate to an account by the account's SID, written in either of two forms:

- a subjectAltName URI ``tag:microsoft.com,2022-09-14:sid:<SID>`` (what Intune writes);
- the extension 1.3.6.1.4.1.311.25.2 (``szOID_NTDS_CA_SECURITY_EXT``, what AD CS
  writes): a SEQUENCE OF GeneralName holding one otherName of type
  1.3.6.1.4.1.311.25.2.1 whose value is the SID string in an OCTET STRING.

A certificate that carries a SID logs in as that account, so a SID is never
copied from a request (anyone can ask for anyone's): it reaches a certificate
only as a `VouchedSid`, made by whatever knows which account the device or
user is (a one-time challenge bound to the SID, Intune's validation, the
application's own lookup). `pyscep.messages.issue_certificate` refuses a SID
in any other form. docs/security.md tells the attack and the defence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from asn1crypto import core, x509

from . import _der_writer as w
from ._boundary import field
from ._der import count_children, prescan, read_header
from ._extensions import MAX_GENERAL_NAMES
from .errors import ParseError

__all__ = [
    "SID_EXTENSION_OID",
    "SID_OTHER_NAME_OID",
    "SID_URI_PREFIX",
    "UNREADABLE_SID",
    "VouchedSid",
    "check_sid",
    "sid_extension_value",
    "sid_of_subject_alt_name",
    "sid_of_uri",
    "sid_uri",
    "sids_in_general_names",
]

#: The subjectAltName URI prefix of a SID (then the SID itself).
SID_URI_PREFIX = "tag:microsoft.com,2022-09-14:sid:"
#: What `CertificationRequest.requested_sids` holds for a SID extension it cannot read.
UNREADABLE_SID = "(unreadable SID extension)"
#: The SID extension (szOID_NTDS_CA_SECURITY_EXT), and its otherName type.
SID_EXTENSION_OID = "1.3.6.1.4.1.311.25.2"
SID_OTHER_NAME_OID = "1.3.6.1.4.1.311.25.2.1"

# MS-DTYP 2.4.2.1: S-1-, an identifier authority (decimal under 2**32, or 48-bit hex),
# then at most 15 sub-authorities of 32 bits each.
_SID = re.compile(r"S-1-(?:[0-9]{1,10}|0[xX][0-9A-Fa-f]{12})(?:-[0-9]{1,10}){0,15}")
_MAX_SID_LENGTH = 184


def check_sid(text: str) -> str:
    """``text`` as a SID string (``S-1-5-21-...``); ValueError when it is not one."""
    if len(text) > _MAX_SID_LENGTH or not _SID.fullmatch(text):
        raise ValueError(f"not a SID: {text[:80]!r}")
    authority, *subs = text.split("-")[2:]
    if not authority.lower().startswith("0x") and int(authority) >= 2**32:
        raise ValueError(f"not a SID: {text[:80]!r} (identifier authority too large)")
    if any(int(sub) >= 2**32 for sub in subs):
        raise ValueError(f"not a SID: {text[:80]!r} (a sub-authority is over 32 bits)")
    return text


@dataclass(frozen=True)
class VouchedSid:
    """A SID some trusted source vouches for: the only way a SID reaches a certificate.

    ``vouched_by`` says who (it is logged with the issuance): "one-time challenge",
    "Intune validation", "renewal of serial 12"... Made by the application or a
    challenge validator, never from what a request asks for.
    """

    sid: str
    vouched_by: str

    def __post_init__(self) -> None:
        check_sid(self.sid)
        if not self.vouched_by.strip():
            raise ValueError("a VouchedSid says who vouches for it")


def sid_uri(sid: str) -> str:
    """The subjectAltName URI that carries ``sid``."""
    return SID_URI_PREFIX + check_sid(sid)


def sid_of_subject_alt_name(name: str) -> str | None:
    """The SID a subjectAltName (``kind:value``, as pyscep writes them) may carry to a
    domain controller, or None: any URI that, percent-decoded and rid of whitespace and
    control characters (which URI writers drop or re-encode: ``s%09id``, a leading
    ``%20``), holds the SID prefix in any case. Conservative on purpose: a URI that
    only looks like one is treated as one. The SID is returned as it follows the prefix."""
    kind, _, value = name.partition(":")
    if kind != "uniform_resource_identifier":
        return None
    return sid_of_uri(value)


def sid_of_uri(uri: str) -> str | None:
    """`sid_of_subject_alt_name` of a URI alone."""
    text = uri  # whole: bounded by the message's own limits, and searched in linear time
    for _ in range(3):  # percent-encoding inside percent-encoding
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    kept = "".join(ch for ch in text if ch.isprintable() and not ch.isspace())
    at = kept.lower().find(SID_URI_PREFIX)
    if at < 0:
        return None
    return kept[at + len(SID_URI_PREFIX) :]


def sid_extension_value(sid: str) -> bytes:
    """The DER value of the SID extension for ``sid`` (as AD CS writes it)."""
    other_name = w.context(
        0,
        w.oid(SID_OTHER_NAME_OID) + w.context(0, w.octet_string(check_sid(sid).encode("ascii"))),
    )
    return w.sequence(other_name)


def sids_in_general_names(value: bytes) -> tuple[str, ...]:
    """The SIDs a GeneralNames value carries (a subjectAltName's, or the SID extension's):
    SID URIs and otherNames of the SID type, as written (not checked: a request's are
    reported, never used). ParseError when ``value`` is no GeneralNames."""
    with field("GeneralNames"):
        prescan(value)
        top = read_header(value)
        count_children(value[top.content_start : top.content_end], MAX_GENERAL_NAMES, "names")
        try:
            names = x509.GeneralNames.load(value, strict=True)
            found: list[str] = []
            for general in names:
                if general.name == "uniform_resource_identifier":
                    # The bytes as received, and asn1crypto's reading of them.
                    raw = bytes(general.chosen.contents or b"").decode("latin-1")
                    sid = sid_of_uri(raw) or sid_of_uri(str(general.native))
                    if sid is not None:
                        found.append(sid)
                elif general.name == "other_name":
                    chosen = general.chosen
                    if chosen["type_id"].dotted == SID_OTHER_NAME_OID:
                        found.append(_other_name_text(chosen["value"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParseError(f"not a GeneralNames value: {exc}") from None
        return tuple(found)


def _other_name_text(value: core.Asn1Value) -> str:
    """The SID otherName's value: an OCTET STRING of ASCII (some write a UTF8String)."""
    parsed = value.parsed if isinstance(value, core.Any) else value
    if isinstance(parsed, core.OctetString):
        return bytes(parsed.native).decode("ascii", "replace")
    if isinstance(parsed, core.AbstractString):
        return str(parsed.native)
    raise ParseError("a SID otherName that is no string")
