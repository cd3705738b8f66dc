"""The bad-input catalog (shared/security-catalog.md), groups 1-5 and 7.

Group 6 (renewal policy) is in test_policy.py, cases marked #84-#95. Each case
here builds one hostile input from a valid message (re-signed after edits, so
each case isolates one defect), runs it through parse -> verify -> decrypt
as a server would, and asserts where it stops, with which error and failInfo.
Cases that belong to the application are listed in docs/security.md.
"""

from __future__ import annotations

import hashlib
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from asn1crypto import algos, cms, core, x509
from asn1crypto import keys as akeys

from pyscep import (
    DecryptionError,
    FailInfo,
    LimitExceededError,
    ParseError,
    RemoteProtocolError,
    ScepError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from pyscep._asn1 import ScepAttribute
from pyscep._der import der_length
from pyscep.messages.pkimessage import decrypt_pki_message, parse_pki_message, verify_request
from pyscep.testing._csr import client_csr
from tests.support.catalog import (
    KEYS,
    MEMORY_ALLOWANCE,
    SEEDED,
    assemble,
    attr,
    eci,
    encrypted_key,
    envelope,
    for_someone_else,
    ktri,
    raw_attr,
    scep_attrs,
    set_ciphertext,
    tlv,
    valid,
    with_envelope,
)
from tests.support.hostile import pss, unsigned_csr


def _nest(depth: int, inner: bytes = b"\x05\x00") -> bytes:
    data = inner
    for _ in range(depth):
        data = b"\x30" + der_length(len(data)) + data
    return data


def run(data: bytes) -> tuple[str, ScepError | None]:
    """Where a server's pipeline stops: parse, verify, decrypt, or ok."""
    try:
        message = parse_pki_message(data)
    except ScepError as exc:
        return "parse", exc
    try:
        verified = verify_request(message)
    except ScepError as exc:
        return "verify", exc
    try:
        decrypt_pki_message(verified, KEYS.ca_decrypter, backend=SEEDED)
    except ScepError as exc:
        return "decrypt", exc
    return "ok", None


@dataclass(frozen=True)
class Case:
    number: int
    what: str
    make: Callable[[], bytes]
    step: str
    error: type[ScepError] | None
    fail_info: FailInfo | None = None


V = valid  # shorthand in the table
BAD_SERIAL_SID = cms.SignerIdentifier(
    {
        "issuer_and_serial_number": {
            "issuer": x509.Name.load(KEYS.client.issuer_der),
            "serial_number": KEYS.client.serial_number + 1,
        }
    }
)
SKI_SID = cms.SignerIdentifier({"subject_key_identifier": b"\x01" * 20})


def _oid_message(oid_body: bytes) -> bytes:
    return b"\x30" + der_length(len(oid_body) + 2) + b"\x06" + der_length(len(oid_body)) + oid_body


def _pss_signer_info(salt: int) -> Callable[[], bytes]:
    return lambda: assemble(envelope(), signature_algorithm=pss(salt))


def _signer_with_spki(spki: bytes) -> x509.Certificate:
    """The test client's certificate (same issuer and serial) with another key."""
    cert = x509.Certificate.load(KEYS.client.der)
    cert["tbs_certificate"]["subject_public_key_info"] = akeys.PublicKeyInfo.load(spki)
    return x509.Certificate.load(cert.dump(force=True))


def _curve_signer(curve: str) -> Callable[[], bytes]:
    spki = akeys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": akeys.ECDomainParameters(name="named", value=curve),
            },
            "public_key": b"\x04" + b"\x01" * 40,
        }
    )
    return lambda: assemble(envelope(), certificates=[_signer_with_spki(spki.dump())])


def _pss_keyed_signer(bits: int) -> Callable[[], bytes]:
    # The key is refused from its size alone: a modulus of the size is enough.
    spki = akeys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsassa_pss"},
            "public_key": {"modulus": (1 << (bits - 1)) + 1, "public_exponent": 65537},
        }
    )
    return lambda: assemble(
        envelope(), signature_algorithm=pss(32), certificates=[_signer_with_spki(spki.dump())]
    )


CASES = [
    # --- Group 1: DER/BER -------------------------------------------------------------
    Case(1, "empty", lambda: b"", "parse", ParseError),
    Case(1, "one tag byte", lambda: b"\x30", "parse", ParseError),
    Case(2, "length beyond data", lambda: b"\x30\x84\x01", "parse", ParseError),
    Case(2, "length of length 8", lambda: b"\x04\x88" + b"\xff" * 8 + b"a", "parse", ParseError),
    Case(2, "definite length > remaining", lambda: V()[:-1], "parse", ParseError),
    Case(3, "trailing bytes", lambda: V() + b"JUNK", "parse", ParseError),
    Case(4, "indefinite primitive", lambda: bytes.fromhex("0480616200 00"), "parse", ParseError),
    Case(5, "missing end-of-contents", lambda: b"\x30\x80\x05\x00", "parse", ParseError),
    Case(5, "stray end-of-contents", lambda: bytes.fromhex("3004000005 00"), "parse", ParseError),
    Case(
        5, "EOC with a length", lambda: bytes.fromhex("3080 0500 000100 0000"), "parse", ParseError
    ),
    Case(
        6,
        "12 levels of indefinite nesting",
        lambda: b"\x30\x80" * 12 + b"\x05\x00" + b"\x00\x00" * 12,
        "parse",
        ParseError,
    ),
    Case(7, "5000 levels of definite nesting", lambda: _nest(5000), "parse", ParseError),
    Case(
        8,
        "160 000-octet tag number",
        lambda: b"\x1f" + b"\x81" * 160_000 + b"\x01\x00",
        "parse",
        ParseError,
    ),
    Case(8, "non-minimal tag 1F 80 01", lambda: b"\x1f\x80\x01\x00", "parse", ParseError),
    Case(8, "long form for a low tag", lambda: b"\x1f\x05\x00", "parse", ParseError),
    Case(10, "empty INTEGER", lambda: b"\x30\x02\x02\x00", "parse", ParseError),
    Case(11, "empty BIT STRING", lambda: b"\x30\x02\x03\x00", "parse", ParseError),
    Case(11, "BIT STRING with 8 unused bits", lambda: b"\x30\x03\x03\x01\x08", "parse", ParseError),
    Case(
        12,
        "PrintableString with NUL in transactionID",
        lambda: assemble(
            envelope(),
            scep_attrs(
                envelope(),
                txid=None,
                extra=(attr("transaction_id", core.PrintableString("a\x00b")),),
            ),
        ),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        13,
        "100 KB INTEGER",
        lambda: b"\x30\x83\x01\x86\xa4\x02\x83\x01\x86\xa0" + b"\x01" * 100_000,
        "parse",
        ParseError,
    ),
    Case(
        13,
        "OID with a 20 000-octet arc",
        lambda: _oid_message(b"\x2a" + b"\x81" * 20_000 + b"\x01"),
        "parse",
        ParseError,
    ),
    Case(
        14,
        "segment of a constructed OCTET STRING that is not one",
        lambda: tlv(
            0x30,
            core.ObjectIdentifier("1.2.840.113549.1.7.2").dump(),
            tlv(
                0xA0,
                tlv(
                    0x30,
                    b"\x02\x01\x01",
                    b"\x31\x00",
                    tlv(
                        0x30,
                        core.ObjectIdentifier("1.2.840.113549.1.7.1").dump(),
                        tlv(0xA0, tlv(0x24, b"\x02\x01\x00")),
                    ),
                    b"\x31\x00",
                ),
            ),
        ),
        "parse",
        ParseError,
    ),
    Case(14, "valid segmented eContent is read", lambda: _segmented(), "ok", None),
    # --- Group 2: SignedData ----------------------------------------------------------
    Case(17, "outer content type envelopedData", lambda: envelope(), "parse", ParseError),
    Case(
        18,
        "ContentInfo with OID and no content",
        lambda: bytes.fromhex("300B06092A864886F70D010702"),
        "parse",
        ParseError,
    ),
    Case(19, "no SignerInfo", lambda: _no_signers(), "parse", ParseError),
    Case(
        20,
        "two SignerInfos",
        lambda: assemble(envelope(), signer_infos=2),
        "parse",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        21,
        "empty digestAlgorithms",
        lambda: assemble(envelope(), digest_algorithms=()),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        21,
        "digestAlgorithms lacks the signer's",
        lambda: assemble(envelope(), digest_algorithms=("sha1",)),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        22,
        "unknown digest OID",
        lambda: _unknown_digest(),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        22,
        "unknown signature OID",
        lambda: assemble(envelope(), signature_algorithm={"algorithm": "1.2.3.4.5"}),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(23, "MD5 digest", lambda: _md5(), "verify", UnsupportedAlgorithmError, FailInfo.BAD_ALG),
    Case(
        24,
        "sha256WithRSA over a SHA-1 digest",
        lambda: _sha1_with_sha256_oid(),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        24,
        "ECDSA signature algorithm with an RSA key",
        lambda: assemble(envelope(), signature_algorithm={"algorithm": "sha256_ecdsa"}),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        25,
        "sid names no certificate",
        lambda: assemble(envelope(), sid=BAD_SERIAL_SID),
        "verify",
        VerificationError,
        FailInfo.BAD_CERT_ID,
    ),
    Case(
        25,
        "SKI sid matching nothing",
        lambda: assemble(envelope(), sid=SKI_SID),
        "verify",
        VerificationError,
        FailInfo.BAD_CERT_ID,
    ),
    Case(
        26,
        "two certificates with the signer's issuer and serial",
        lambda: _ambiguous(),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        27, "garbage extra certificate is ignored", lambda: _garbage_extra_certificate(), "ok", None
    ),
    Case(
        28,
        "detached (no eContent)",
        lambda: assemble(None, scep_attrs(b"")),
        "verify",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        28,
        "eContentType not data",
        lambda: assemble(
            envelope(),
            scep_attrs(envelope(), content_type="enveloped_data"),
            econtent_type="enveloped_data",
            version="v3",
        ),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        29,
        "SignedData version 3 hashes the same octets",
        lambda: assemble(envelope(), version="v3"),
        "ok",
        None,
    ),
    # --- Group 3: signed attributes ---------------------------------------------------
    Case(
        31,
        "no signedAttrs",
        lambda: assemble(envelope(), signed_attrs=False),
        "parse",
        ParseError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        32,
        "messageDigest missing",
        lambda: assemble(envelope(), scep_attrs(envelope(), digest=b"")),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        33,
        "messageDigest mismatch",
        lambda: assemble(envelope(), scep_attrs(envelope(), digest=b"\x00" * 32)),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        34,
        "messageDigest of 64 bytes for SHA-256",
        lambda: assemble(envelope(), scep_attrs(envelope(), digest=b"\x00" * 64)),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        34,
        "messageDigest as an INTEGER",
        lambda: _digest_as_integer(),
        "parse",
        ParseError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        35,
        "contentType missing",
        lambda: assemble(envelope(), scep_attrs(envelope(), content_type=None)),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        36,
        "contentType says signedData",
        lambda: assemble(envelope(), scep_attrs(envelope(), content_type="signed_data")),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        37,
        "two messageDigest attributes",
        lambda: assemble(
            envelope(),
            scep_attrs(envelope(), extra=(attr("message_digest", core.OctetString(b"\x01" * 32)),)),
        ),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        37,
        "messageType 19 and 17",
        lambda: assemble(
            envelope(),
            scep_attrs(envelope(), extra=(attr("message_type", core.PrintableString("17")),)),
        ),
        "parse",
        ParseError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        38,
        "messageType with two values",
        lambda: assemble(
            envelope(),
            [
                *scep_attrs(envelope(), message_type=None)[1:],
                attr("message_type", core.PrintableString("19"), core.PrintableString("17")),
            ],
        ),
        "parse",
        ScepError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        38,
        "senderNonce with no value",
        lambda: assemble(
            envelope(), scep_attrs(envelope(), nonce=None, extra=(attr("sender_nonce"),))
        ),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        39,
        "unsorted signed attributes verify over the received bytes",
        lambda: assemble(envelope(), list(reversed(scep_attrs(envelope()))), sort=False),
        "ok",
        None,
    ),
    Case(
        40,
        "signature over the [0] bytes",
        lambda: assemble(envelope(), signed_bytes=lambda d: b"\xa0" + d[1:]),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        41,
        "unknown extra attributes tolerated",
        lambda: assemble(
            envelope(),
            scep_attrs(
                envelope(), extra=(attr("1.2.840.113549.1.9.25.3", core.OctetString(b"r" * 16)),)
            ),
        ),
        "ok",
        None,
    ),
    Case(42, "signingTime 2099 tolerated", lambda: _signing_time_2099(), "ok", None),
    Case(
        43,
        "countersignature among signed attributes",
        lambda: _countersignature(),
        "verify",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        44,
        "messageType as UTF8String is tolerated",
        lambda: assemble(
            envelope(),
            [
                *scep_attrs(envelope(), message_type=None)[1:],
                raw_attr("2.16.840.1.113733.1.9.2", core.UTF8String("19").dump()),
            ],
        ),
        "ok",
        None,
    ),
    Case(
        44,
        "messageType as INTEGER",
        lambda: assemble(
            envelope(),
            [
                *scep_attrs(envelope(), message_type=None)[1:],
                raw_attr("2.16.840.1.113733.1.9.2", core.Integer(19).dump()),
            ],
        ),
        "parse",
        ScepError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        44,
        "senderNonce as PrintableString",
        lambda: assemble(
            envelope(),
            scep_attrs(
                envelope(),
                nonce=None,
                extra=(raw_attr("2.16.840.1.113733.1.9.5", core.PrintableString("x" * 16).dump()),),
            ),
        ),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    # --- Group 4: EnvelopedData ---------------------------------------------------------
    Case(
        46,
        "bad PKCS#1 padding (attacker-signed)",
        lambda: with_envelope(lambda i: ktri(i).__setitem__("encrypted_key", b"\x00" * 256)),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        47,
        "valid padding, 13-byte key",
        lambda: with_envelope(
            lambda i: ktri(i).__setitem__("encrypted_key", encrypted_key(b"k" * 13))
        ),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        49,
        "no RecipientInfo for us",
        lambda: for_someone_else(),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        50,
        "password recipient only",
        lambda: _pwri_only(),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        51,
        "OAEP with a label",
        lambda: _oaep_label(),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        53,
        "RC2 content cipher",
        lambda: with_envelope(
            lambda i: eci(i)["content_encryption_algorithm"].__setitem__("algorithm", "rc2")
        ),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        53,
        "single DES without the legacy switch",
        lambda: with_envelope(
            lambda i: eci(i)["content_encryption_algorithm"].__setitem__("algorithm", "des")
        ),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        54,
        "IV of 5 bytes",
        lambda: with_envelope(
            lambda i: eci(i)["content_encryption_algorithm"].__setitem__(
                "parameters", core.OctetString(b"\x00" * 5)
            )
        ),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        55,
        "encryptedContent absent",
        lambda: with_envelope(lambda i: eci(i).__setitem__("encrypted_content", None)),
        "decrypt",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        56,
        "15-byte ciphertext",
        lambda: with_envelope(lambda i: set_ciphertext(i, b"\x01" * 15)),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        57,
        "bad CBC padding",
        lambda: with_envelope(lambda i: set_ciphertext(i, b"\x01" * 32)),
        "decrypt",
        DecryptionError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    Case(
        59,
        "AuthEnvelopedData",
        lambda: _auth_enveloped(),
        "verify",  # the envelope is read when first used: verify reads it first
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        59,
        "AES-GCM content cipher",
        lambda: with_envelope(
            lambda i: eci(i)["content_encryption_algorithm"].__setitem__("algorithm", "aes128_gcm")
        ),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        60,
        "decrypts to a certificate, not a CSR",
        lambda: _request_with(KEYS.ca.der),
        "decrypt",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        60,
        "CSR plus trailing bytes",
        lambda: _request_with(client_csr() + b"\x00\x00"),
        "decrypt",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    # --- Group 5: SCEP semantics ----------------------------------------------------------
    Case(
        61,
        'messageType "99"',
        lambda: assemble(
            envelope(), scep_attrs(envelope(), message_type=core.PrintableString("99"))
        ),
        "parse",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        61,
        'messageType "019"',
        lambda: assemble(
            envelope(), scep_attrs(envelope(), message_type=core.PrintableString("019"))
        ),
        "parse",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        61,
        'messageType ""',
        lambda: assemble(envelope(), scep_attrs(envelope(), message_type=core.PrintableString(""))),
        "parse",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        63,
        "a CertRep sent to the server",
        lambda: _cert_rep(),
        "verify",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        64,
        "transactionID missing",
        lambda: assemble(envelope(), scep_attrs(envelope(), txid=None)),
        "verify",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        64,
        "transactionID of 10 KB",
        lambda: assemble(envelope(), scep_attrs(envelope(), txid="A" * 10_000)),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        66,
        "senderNonce missing",
        lambda: assemble(envelope(), scep_attrs(envelope(), nonce=None)),
        "verify",
        RemoteProtocolError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        66,
        "senderNonce of 17 bytes",
        lambda: assemble(envelope(), scep_attrs(envelope(), nonce=b"n" * 17)),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        66,
        "senderNonce of 0 bytes",
        lambda: assemble(envelope(), scep_attrs(envelope(), nonce=b"")),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        71,
        "challengePassword twice",
        lambda: _request_with(_csr_with_two_passwords()),
        "decrypt",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        75,
        "CSR self-signature invalid",
        lambda: _request_with(_csr_bad_signature()),
        "decrypt",
        VerificationError,
        FailInfo.BAD_MESSAGE_CHECK,
    ),
    # --- Group 7: resources ---------------------------------------------------------------
    Case(
        96,
        "3 MiB body",
        lambda: b"\x30\x83\x30\x00\x00" + b"\x00" * (3 * 2**20),
        "parse",
        ParseError,
    ),
    Case(
        98,
        "SET OF with 100 000 elements",
        lambda: b"\x31\x83\x03\x0d\x40" + b"\x05\x00" * 100_000,
        "parse",
        ParseError,
    ),
    Case(
        100,
        "16 384-bit RSA signer",
        lambda: _huge_key_signer(),
        "verify",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        105,
        "compressedData as eContentType",
        lambda: assemble(
            envelope(),
            scep_attrs(envelope(), content_type="compressed_data"),
            econtent_type="compressed_data",
            version="v3",
        ),
        "parse",
        ParseError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        106, "4-byte input declaring 4 GB", lambda: b"\x30\x84\xff\xff\xff\xff", "parse", ParseError
    ),
    # --- Beyond the catalog: the independent set of issue 9 -------------------------
    *(
        Case(
            107,
            f"SignerInfo RSASSA-PSS saltLength {salt}",
            _pss_signer_info(salt),
            "verify",
            UnsupportedAlgorithmError,
            FailInfo.BAD_ALG,
        )
        for salt in (-1, 2**70)
    ),
    *(
        Case(
            108,
            f"signer key on {curve}",
            _curve_signer(curve),
            "verify",
            UnsupportedAlgorithmError,
            FailInfo.BAD_ALG,
        )
        for curve in ("brainpoolp160r1", "secp112r1")
    ),
    *(
        Case(
            109,
            f"signer: {bits}-bit RSA key under id-RSASSA-PSS",
            _pss_keyed_signer(bits),
            "verify",
            UnsupportedAlgorithmError,
            FailInfo.BAD_ALG,
        )
        for bits in (1024, 16384)
    ),
    Case(
        110,
        "CSR signed with MD5",
        lambda: _request_with(_csr_signed({"algorithm": "md5_rsa"})),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        111,
        "CSR signed with RSASSA-PSS saltLength 2**70",
        lambda: _request_with(_csr_signed(pss(2**70))),
        "decrypt",
        UnsupportedAlgorithmError,
        FailInfo.BAD_ALG,
    ),
    Case(
        112,
        "CSR: 300 000 NULLs in one extension (600 KB)",
        lambda: _request_with(_csr_extension("1.2.3.4", tlv(0x30, b"\x05\x00" * 300_000))),
        "decrypt",
        LimitExceededError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        113,
        "CSR: 1 025 dNSNames",
        lambda: _request_with(_csr_extension("2.5.29.17", tlv(0x30, *[tlv(0x82, b"a")] * 1025))),
        "decrypt",
        LimitExceededError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        114,
        "CSR: 600 KB keyUsage",
        lambda: _request_with(_csr_extension("2.5.29.15", tlv(0x03, b"\x00" + b"\xff" * 600_000))),
        "decrypt",
        LimitExceededError,
        FailInfo.BAD_REQUEST,
    ),
    Case(
        115,
        "30 000 NULLs inside an unknown signed attribute's OCTET STRING",
        lambda: _with_attribute(raw_attr("1.2.3.4.5", tlv(0x04, tlv(0x30, b"\x05\x00" * 30_000)))),
        "parse",
        LimitExceededError,
        FailInfo.BAD_REQUEST,
    ),
]


def _no_signers() -> bytes:
    info = cms.ContentInfo.load(valid())
    info["content"]["signer_infos"] = []
    return bytes(info.dump(force=True))


def _unknown_digest() -> bytes:
    data = assemble(envelope(), digest_algorithms=("1.2.3.4.5",))
    info = cms.ContentInfo.load(data)
    info["content"]["signer_infos"][0]["digest_algorithm"] = {"algorithm": "1.2.3.4.5"}
    return bytes(info.dump(force=True))


def _md5() -> bytes:
    env = envelope()
    attrs = scep_attrs(env, digest=hashlib.md5(env).digest())  # noqa: S324 - the point
    return assemble(env, attrs, digest="md5", digest_algorithms=("md5",))


def _sha1_with_sha256_oid() -> bytes:
    env = envelope()
    return assemble(
        env,
        scep_attrs(env, digest=hashlib.sha1(env).digest()),  # noqa: S324
        digest="sha1",
        digest_algorithms=("sha1",),
        signature_algorithm={"algorithm": "sha256_rsa"},
    )


def _ambiguous() -> bytes:
    from datetime import datetime, timezone

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization

    from pyscep.testing import make_identity

    other = make_identity("impostor", now=datetime.now(timezone.utc))
    key: Any = serialization.load_der_private_key(other.key_der, None)
    twin = (
        cx509.CertificateBuilder()
        .subject_name(KEYS.client.to_cryptography().subject)
        .issuer_name(KEYS.client.to_cryptography().issuer)
        .public_key(key.public_key())
        .serial_number(KEYS.client.serial_number)
        .not_valid_before(KEYS.client.not_valid_before)
        .not_valid_after(KEYS.client.not_valid_after)
        .sign(key, hashes.SHA256())
    )
    twin_der = twin.public_bytes(serialization.Encoding.DER)
    from asn1crypto import x509 as ax509

    return assemble(
        envelope(),
        certificates=[x509.Certificate.load(KEYS.client.der), ax509.Certificate.load(twin_der)],
    )


def _garbage_extra_certificate() -> bytes:
    from asn1crypto import x509 as ax509

    broken = bytearray(KEYS.ca.der)
    broken[broken.index(bytes.fromhex("0603551d")) - 2] = 0x31  # an extension as a SET
    return assemble(
        envelope(),
        certificates=[
            x509.Certificate.load(KEYS.client.der),
            ax509.Certificate.load(bytes(broken)),
        ],
    )


def _digest_as_integer() -> bytes:
    env = envelope()
    attrs = [a for a in scep_attrs(env) if a["type"].native != "message_digest"]
    return assemble(env, [*attrs, raw_attr("1.2.840.113549.1.9.4", core.Integer(5).dump())])


def _segmented() -> bytes:
    """The valid request with its eContent split in two segments (Java/Apple BER)."""
    env = envelope()
    signed = cms.ContentInfo.load(assemble(env, scep_attrs(env)))["content"]
    half = len(env) // 2
    segmented = tlv(0x24, tlv(0x04, env[:half]), tlv(0x04, env[half:]))
    body = (
        signed["version"].dump()
        + signed["digest_algorithms"].dump()
        + tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.7.1").dump(), tlv(0xA0, segmented))
        + signed["certificates"].dump()
        + signed["signer_infos"].dump()
    )
    return tlv(
        0x30, core.ObjectIdentifier("1.2.840.113549.1.7.2").dump(), tlv(0xA0, tlv(0x30, body))
    )


def _signing_time_2099() -> bytes:
    from datetime import datetime, timezone

    env = envelope()
    when = cms.Time({"generalized_time": datetime(2099, 1, 1, tzinfo=timezone.utc)})
    return assemble(env, scep_attrs(env, extra=(attr("signing_time", when),)))


def _countersignature() -> bytes:
    env = envelope()
    inner = cms.ContentInfo.load(valid())["content"]["signer_infos"][0]
    return assemble(env, scep_attrs(env, extra=(attr("counter_signature", inner),)))


def _pwri_only() -> bytes:
    info = cms.ContentInfo.load(envelope())
    pwri = cms.RecipientInfo(
        {
            "pwri": cms.PasswordRecipientInfo(
                {
                    "version": "v0",
                    "key_encryption_algorithm": {"algorithm": "aes128_wrap"},
                    "encrypted_key": b"\x00" * 24,
                }
            )
        }
    )
    info["content"]["recipient_infos"] = [pwri]
    info["content"]["version"] = "v3"
    env = bytes(info.dump(force=True))
    return assemble(env, scep_attrs(env))


def _oaep_label() -> bytes:
    def edit(info: cms.ContentInfo) -> None:
        ktri(info)["key_encryption_algorithm"] = cms.KeyEncryptionAlgorithm(
            {
                "algorithm": "rsaes_oaep",
                "parameters": algos.RSAESOAEPParams(
                    {"p_source_algorithm": {"algorithm": "p_specified", "parameters": b"label"}}
                ),
            }
        )

    return with_envelope(edit)


def _auth_enveloped() -> bytes:
    inner = cms.ContentInfo.load(envelope())["content"]
    auth = cms.ContentInfo(
        {
            "content_type": "authenticated_enveloped_data",
            "content": cms.AuthEnvelopedData(
                {
                    "version": "v0",
                    "recipient_infos": inner["recipient_infos"],
                    "auth_encrypted_content_info": {
                        "content_type": "data",
                        "content_encryption_algorithm": {"algorithm": "aes128_gcm"},
                        "encrypted_content": b"x" * 32,
                    },
                    "mac": b"m" * 16,
                }
            ),
        }
    )
    env = bytes(auth.dump())
    return assemble(env, scep_attrs(env))


def _csr_signed(algorithm: dict[str, Any]) -> bytes:
    return unsigned_csr(spki=KEYS.client.public_key_der, algorithm=algorithm, key=_client_key())


def _csr_extension(oid: str, value: bytes) -> bytes:
    return unsigned_csr(spki=KEYS.client.public_key_der, extensions=[(oid, value)])


def _client_key() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(KEYS.client_key, None)


def _with_attribute(extra: ScepAttribute) -> bytes:
    env = envelope()
    return assemble(env, scep_attrs(env, extra=(extra,)))


def _request_with(content: bytes) -> bytes:
    env = envelope(content)
    return assemble(env, scep_attrs(env))


def _csr_with_two_passwords() -> bytes:
    from asn1crypto import csr

    request = csr.CertificationRequest.load(client_csr())
    attrs = request["certification_request_info"]["attributes"]
    twice = csr.CRIAttributes([attrs[0], attrs[0].copy()])
    request["certification_request_info"]["attributes"] = twice
    return bytes(request.dump(force=True))


def _csr_bad_signature() -> bytes:
    data = bytearray(client_csr())
    data[-3] ^= 0x01
    return bytes(data)


def _cert_rep() -> bytes:
    from pyscep.messages import ReplyTo, build_cert_rep_pending

    return build_cert_rep_pending(ReplyTo("TX-1", b"N" * 16), signer=KEYS.ca_signer)


def _huge_key_signer() -> bytes:
    # An RSA key of 16 384 bits is refused from its size alone: no need to make one.
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509

    cert = ax509.Certificate.load(KEYS.client.der)
    spki = akeys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa"},
            "public_key": {"modulus": (1 << 16383) + 1, "public_exponent": 65537},
        }
    )
    cert["tbs_certificate"]["subject_public_key_info"] = spki
    return assemble(envelope(), certificates=[ax509.Certificate.load(cert.dump(force=True))])


@pytest.mark.parametrize("case", CASES, ids=[f"#{c.number} {c.what}" for c in CASES])
def test_catalog_case(case: Case) -> None:
    data = case.make()
    start = time.perf_counter()
    step, error = run(data)
    assert time.perf_counter() - start < 1.0
    # Memory, measured on a second run: within 20x the input, plus a fixed
    # allowance for what any parse allocates (asn1crypto objects, key loading).
    tracemalloc.start()
    try:
        run(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 20 * len(data) + MEMORY_ALLOWANCE, f"{peak} bytes for {len(data)}"
    assert step == case.step, repr(error)
    if case.error is None:
        assert error is None
        return
    assert isinstance(error, case.error), repr(error)
    if case.fail_info is not None:
        assert error.fail_info is case.fail_info, repr(error)
