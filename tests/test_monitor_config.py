"""``pyscep monitor``: its configuration and ``status``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from pyscep.cli import main
from pyscep.monitor import MonitorConfigError, load_config, status
from pyscep.testing import make_identity
from tests.support.helpers import NOW, pem_cert

CA = make_identity("Monitor CA", now=NOW, ca=True)
# 90 days of life, issued at NOW.
WEB = make_identity("web.example", now=NOW, issuer=CA, days=90)


def _keystores(tmp_path: Path) -> Path:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "web.crt").write_bytes(pem_cert(WEB.certificate))
    (tmp_path / "tls" / "web.key").write_bytes(WEB.key_der)
    (tmp_path / "tls" / "ca.crt").write_bytes(pem_cert(CA.certificate))
    key = serialization.load_der_private_key(WEB.key_der, None)
    bundle = pkcs12.serialize_key_and_certificates(
        b"vpn",
        key,  # type: ignore[arg-type]
        WEB.certificate.to_cryptography(),
        None,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "tls" / "vpn.p12").write_bytes(bundle)
    (tmp_path / "tls" / "vpn.pass").write_text("secret\n")
    config = tmp_path / "monitor.toml"
    pin = CA.certificate.sha256_fingerprint.hex()
    config.write_text(
        f"""
[[keystore]]
name = "web"
format = "pem"
key = "tls/web.key"
certificate = "tls/web.crt"
url = "http://127.0.0.1:8080/scep"
ca_certificate = "tls/ca.crt"
renew_before_days = 30
post_renew = "systemctl reload nginx"

[[keystore]]
name = "vpn"
format = "pkcs12"
path = "tls/vpn.p12"
passphrase_file = "tls/vpn.pass"
url = "http://127.0.0.1:8080/scep"
ca_fingerprint = "{pin}"
renew_at_fraction = 0.5
"""
    )
    return config


def test_the_documented_config_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = _keystores(tmp_path)
    web, vpn = load_config(config)
    assert (web.name, web.format, web.key) == ("web", "pem", tmp_path / "tls" / "web.key")
    assert web.thresholds.days == 30
    assert web.post_renew == "systemctl reload nginx"
    assert (vpn.format, vpn.path) == ("pkcs12", tmp_path / "tls" / "vpn.p12")
    assert vpn.ca_fingerprint == CA.certificate.sha256_fingerprint
    assert vpn.thresholds.percent == pytest.approx(50)


@pytest.mark.parametrize(
    ("days", "web", "vpn"),
    [
        (10, "NOT_DUE", "NOT_DUE"),
        (50, "NOT_DUE", "DUE"),  # half the lifetime gone: the vpn renews at 0.5
        (65, "DUE", "DUE"),
        (70, "DUE", "OVERDUE"),  # less than half of the vpn's renewal window left
        (80, "OVERDUE", "OVERDUE"),
        (91, "EXPIRED", "EXPIRED"),
    ],
)
def test_status_at_several_times(tmp_path: Path, days: int, web: str, vpn: str) -> None:
    rows = status(_keystores(tmp_path), NOW + timedelta(days=days))
    assert [(r["name"], r["state"]) for r in rows] == [("web", web), ("vpn", vpn)]
    assert rows[0]["subject"] == WEB.certificate.subject


def test_a_pending_renewal_is_reported_as_such(tmp_path: Path) -> None:
    config = _keystores(tmp_path)
    (tmp_path / "monitor.toml.state.json").write_text(json.dumps({"pending": {"web": {}}}))
    rows = status(config, NOW + timedelta(days=70))
    assert [r["state"] for r in rows] == ["PENDING", "OVERDUE"]


def test_an_interrupted_swap_is_reported_as_pending(tmp_path: Path) -> None:
    config = _keystores(tmp_path)
    swap = {"replace": {"a": "a.new"}, "discard": []}
    (tmp_path / "monitor.toml.state.json").write_text(json.dumps({"swaps": {"vpn": swap}}))
    rows = status(config, NOW)
    assert [r["state"] for r in rows] == ["NOT_DUE", "PENDING"]
    assert "interrupted swap" in rows[1]["action"]


@pytest.mark.parametrize("text", ["{", "[]", '{"pending": []}'])
def test_a_damaged_state_file_is_a_clear_error(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _keystores(tmp_path)
    (tmp_path / "monitor.toml.state.json").write_text(text)
    with pytest.raises(MonitorConfigError, match=r"monitor\.toml\.state\.json"):
        status(config, NOW)
    assert main(["monitor", "run", "--config", str(config)]) == 2
    assert "state.json" in capsys.readouterr().err


def test_status_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _keystores(tmp_path)
    now = (NOW + timedelta(days=70)).isoformat()
    assert main(["monitor", "status", "--config", str(config), "--now", now, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in rows] == ["DUE", "OVERDUE"]


def test_an_unreadable_keystore_is_a_failed_row_not_a_crash(tmp_path: Path) -> None:
    config = _keystores(tmp_path)
    (tmp_path / "tls" / "vpn.pass").write_text("wrong\n")
    rows = status(config, NOW)
    assert [r["state"] for r in rows] == ["NOT_DUE", "FAILED"]


_P12 = '[[keystore]]\nname = "a"\nformat = "pkcs12"\nurl = "u"\npath = "p"\n'
BAD_CONFIGS = [
    ("", "no [[keystore]]"),
    ("[[keystore]\n", "not TOML"),
    ('[[keystore]]\nname = "a"\n', "format is required"),
    ('[[keystore]]\nname = "a"\nformat = "der"\n', "format must be"),
    ('[[keystore]]\nname = "a"\nformat = "pem"\nurl = "u"\nca_certificate = "c"\n', "needs key"),
    (
        '[[keystore]]\nname = "a"\nformat = "pkcs12"\nurl = "u"\npath = "p"\n',
        "ca_certificate or ca_fingerprint",
    ),
    (_P12 + 'ca_fingerprint = "ab"\n', "SHA-256"),
    (
        '[[keystore]]\nname = "a"\nformat = "pkcs12"\nurl = "u"\npath = "p"\n'
        'ca_certificate = "c"\nrenew_at_fraction = 2\n',
        "between 0 and 1",
    ),
    ('[[keystore]]\nname = "a"\nformat = "pem"\nkye = "typo"\n', "unknown key"),
    ((_P12 + 'ca_certificate = "c"\n') * 2, "unique"),
    (_P12 + 'ca_certificate = "c"\nkey_type = "dsa:1024"\n', "key_type is one of"),
]


@pytest.mark.parametrize(("text", "why"), BAD_CONFIGS, ids=[why for _, why in BAD_CONFIGS])
def test_a_bad_config_says_what_and_where(tmp_path: Path, text: str, why: str) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(text)
    with pytest.raises(MonitorConfigError, match=why.replace("[", r"\[")):
        load_config(config)


def test_a_bad_now_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _keystores(tmp_path)
    assert main(["monitor", "status", "--config", str(config), "--now", "tomorrow"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
