"""``pyscep policy check`` end to end, on files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyscep import MessageType, load_signer
from pyscep.cli import main
from pyscep.messages.build import build_pkcs_req
from pyscep.testing import make_identity
from tests.support.helpers import NOW, make_csr, pem_cert

CA = make_identity("CLI CA", now=NOW, ca=True)
DEVICE = make_identity("cli-device", now=NOW, issuer=CA)
NEW = make_identity("cli-device", now=NOW)  # a new key for the renewal


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "ca.pem").write_bytes(pem_cert(CA.certificate))
    (tmp_path / "ca.key").write_bytes(CA.key_der)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "device.der").write_bytes(DEVICE.certificate.der)
    (tmp_path / "inventory.json").write_text(
        json.dumps(
            [
                {
                    "certificate": "certs/device.der",
                    "status": "valid",
                    "role": "Device",
                    "ra": "RA-1",
                    "comment": "extra keys are fine",
                },
            ]
        )
    )
    (tmp_path / "scep.conf").write_text('ScepAutoApprove "YES"\nScepRenewalRDNMatch "CN"\n')
    renewal = build_pkcs_req(
        make_csr(NEW, "cli-device", challenge=None),
        signer=load_signer(DEVICE.key_der, DEVICE.certificate),
        recipient=CA.certificate,
        message_type=MessageType.RENEWAL_REQ,
    )
    (tmp_path / "renewal.der").write_bytes(renewal.der)
    (tmp_path / "csr.der").write_bytes(make_csr(NEW, "cli-device", challenge=None))
    (tmp_path / "device.pem").write_bytes(pem_cert(DEVICE.certificate))
    return {p.name: str(p) for p in tmp_path.iterdir()}


def _common(files: dict[str, str]) -> list[str]:
    return [
        "policy",
        "check",
        "--config",
        files["scep.conf"],
        "--inventory",
        files["inventory.json"],
        "--ca-cert",
        files["ca.pem"],
        "--now",
        "2026-11-28T00:00:00",
    ]


def test_renewal_pki_message_is_issued(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [*_common(files), "--request", files["renewal.der"], "--ca-key", files["ca.key"], "--json"]
    )
    assert status == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["decision"] == "ISSUE"
    assert decision["classification"] == "re-key"
    assert decision["failInfo"] is None
    assert (decision["role"], decision["ra"]) == ("Device", "RA-1")
    assert decision["trace"][-1]["rule"] == "approval"
    assert {"rule", "outcome", "detail"} == set(decision["trace"][0])


def test_bare_csr_with_signer_and_text_output(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            *_common(files),
            "--request",
            files["csr.der"],
            "--signer-cert",
            files["device.pem"],
            "--message-type",
            "RenewalReq",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "decision:       ISSUE" in out
    assert "[pass] signer-provenance" in out


def test_without_the_ca_key_a_renewal_by_a_valid_signer_needs_the_csr(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # The signer is ours and valid: only the CSR can decide, and there is no key.
    assert main([*_common(files), "--request", files["renewal.der"]]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--ca-key" in error


def test_bad_config_is_reported_with_its_line(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    Path(files["scep.conf"]).write_text('ScepAutoApprove "YES"\nScepAutoAprove "NO"\n')
    assert (
        main([*_common(files), "--request", files["renewal.der"], "--ca-key", files["ca.key"]]) == 2
    )
    assert "line 2: unknown key 'ScepAutoAprove'" in capsys.readouterr().err


def test_without_the_ca_key_what_the_signer_decides_is_still_decided(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Signed by a certificate another CA issued: refused from the signer alone.
    other_ca = make_identity("Other CA", now=NOW, ca=True)
    stranger = make_identity("cli-device", now=NOW, issuer=other_ca)
    foreign = build_pkcs_req(
        make_csr(NEW, "cli-device", challenge=None),
        signer=load_signer(stranger.key_der, stranger.certificate),
        recipient=CA.certificate,
        message_type=MessageType.RENEWAL_REQ,
    )
    (tmp_path / "foreign.der").write_bytes(foreign.der)
    assert main([*_common(files), "--request", str(tmp_path / "foreign.der"), "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["decision"] == "REJECT"
    assert decision["trace"][-1]["rule"] == "signer-provenance"
    # A first enrollment (self-signed signer) really needs the CSR: exit 2, and why.
    first = build_pkcs_req(
        make_csr(NEW, "new-device", challenge="s3cret"),
        signer=NEW.signer,
        recipient=CA.certificate,
    )
    (tmp_path / "first.der").write_bytes(first.der)
    assert main([*_common(files), "--request", str(tmp_path / "first.der")]) == 2
    assert "needs the CSR" in capsys.readouterr().err
