"""pyscep's post-quantum CMS artefacts, named as the IETF PQC hackathon names its own.

`hackathon_artifacts` makes a fresh set: an ML-DSA-44 trust anchor; for each
ML-DSA parameter set a certificate, its private key (seed form) and a SignedData
with signed attributes; for each ML-KEM parameter set a certificate, its private
key and EnvelopedData and AuthEnvelopedData with a KEMRecipientInfo, with and
without ukm, for HKDF with SHA-256, -384 and -512. The names follow the
hackathon's (IETF-Hackathon/pqc-certificates, docs/oid_mapping.md), so a set can
be zipped and submitted there; every file holds `EXPECTED_PLAINTEXT`.
"""

from __future__ import annotations

from datetime import datetime

from asn1crypto import pem

from pyscep._appkit.keys import new_private_key
from pyscep.algorithms import DEFAULT_POLICY, ContentCipher, DigestAlgorithm
from pyscep.cms import build_auth_enveloped_data, build_enveloped_data, build_signed_data
from pyscep.crypto import KeyPair, get_backend, load_private_key
from pyscep.messages import build_csr
from pyscep.messages.identity import KeyToCertify, issue_certificate, self_signed_certificate
from pyscep.public_key import PARAMETER_SETS

__all__ = ["EXPECTED_PLAINTEXT", "artifact_prefix", "hackathon_artifacts"]

#: What the hackathon's CMS artefacts carry.
EXPECTED_PLAINTEXT = b"Hello, World!"
#: The KDF names of the hackathon's file names, by HKDF hash.
_KDF_NAMES = {
    DigestAlgorithm.SHA256: "id-alg-hkdf-with-sha256",
    DigestAlgorithm.SHA384: "id-alg-hkdf-with-sha384",
    DigestAlgorithm.SHA512: "id-alg-hkdf-with-sha512",
}
_UKM = bytes(range(1, 21))


def artifact_prefix(parameter_set: str) -> str:
    """``ml-kem-768-2.16.840.1.101.3.4.4.2``: the hackathon's name for a parameter set."""
    parameters = PARAMETER_SETS[parameter_set]
    return f"{parameters.title.lower()}-{parameters.oid}"


def hackathon_artifacts(now: datetime) -> dict[str, bytes]:
    """A fresh artefact set (new keys) valid from ``now`` for a year: file name -> contents."""
    backend = get_backend()
    files: dict[str, bytes] = {"expected_plaintext.txt": EXPECTED_PLAINTEXT}
    anchor_key = load_private_key(new_private_key("ml-dsa-44"))
    anchor = self_signed_certificate(
        anchor_key, "CN=pyscep ML-DSA-44 Test TA", now=now, days=365, ca=True
    )
    files["ta.der"] = anchor.der
    authority = KeyPair(anchor_key, anchor)
    for name in ("ml_dsa_44", "ml_dsa_65", "ml_dsa_87"):
        prefix = artifact_prefix(name)
        key_pem = new_private_key(PARAMETER_SETS[name].title.lower())
        key = load_private_key(key_pem)
        request = build_csr(key, f"CN=pyscep {PARAMETER_SETS[name].title} Test EE")
        certificate = issue_certificate(authority, request, now=now)
        files[f"{prefix}_ee.der"] = certificate.der
        files[f"{prefix}_priv.der"] = _der_of(key_pem)
        files[f"{prefix}_signed_attrs.der"] = build_signed_data(
            EXPECTED_PLAINTEXT,
            KeyPair(key, certificate),
            digest=DigestAlgorithm.SHA512,
            backend=backend,
            algorithms=DEFAULT_POLICY,
            signing_time=now,
        )
    for name in ("ml_kem_768", "ml_kem_1024"):
        prefix = artifact_prefix(name)
        key_pem = new_private_key(PARAMETER_SETS[name].title.lower())
        key = load_private_key(key_pem)
        subject = f"CN=pyscep {PARAMETER_SETS[name].title} Test EE"
        certificate = issue_certificate(
            authority, KeyToCertify.of(key.public_key_der, subject), now=now
        )
        files[f"{prefix}_ee.der"] = certificate.der
        files[f"{prefix}_priv.der"] = _der_of(key_pem)
        for kdf, kdf_name in _KDF_NAMES.items():
            for ukm, suffix in ((None, ""), (_UKM, "_ukm")):
                files[f"{prefix}_kemri_{kdf_name}{suffix}.der"] = build_enveloped_data(
                    EXPECTED_PLAINTEXT,
                    certificate,
                    cipher=ContentCipher.AES256_CBC,
                    backend=backend,
                    algorithms=DEFAULT_POLICY,
                    kdf_digest=kdf,
                    ukm=ukm,
                )
                files[f"{prefix}_kemri_auth_{kdf_name}{suffix}.der"] = build_auth_enveloped_data(
                    EXPECTED_PLAINTEXT,
                    certificate,
                    backend=backend,
                    algorithms=DEFAULT_POLICY,
                    kdf_digest=kdf,
                    ukm=ukm,
                )
    return files


def _der_of(pem_or_der: bytes) -> bytes:
    """A PKCS#8 key as DER (the hackathon's ``_priv.der``)."""
    if pem.detect(pem_or_der):
        return bytes(pem.unarmor(pem_or_der)[2])
    return pem_or_der
