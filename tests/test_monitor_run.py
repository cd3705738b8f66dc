"""``pyscep monitor run`` against a real ``pyscep serve``: renew, resume PENDING, crash, lock."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pyscep import Certificate, load_private_key
from pyscep.cli import main, monitor_run
from tests.helpers import openssl
from tests.test_serve import CHALLENGE, Served


def _enroll(server: Served, directory: Path) -> None:
    run = subprocess.run(
        [
            sys.executable, "-m", "pyscep", "client", "enroll", server.url,
            "--subject", "CN=web.example,O=Example", "--challenge", CHALLENGE,
            "--key-out", str(directory / "web.key"), "--cert-out", str(directory / "web.crt"),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    # Keep the certificate alone in the keystore's file (the client writes the chain too).
    only = Certificate.load((directory / "web.crt").read_bytes())
    pem = only.to_cryptography().public_bytes(
        __import__("cryptography").hazmat.primitives.serialization.Encoding.PEM
    )
    (directory / "web.crt").write_bytes(pem)


def _config(directory: Path, server: Served) -> Path:
    (directory / "ca.crt").write_bytes((server.directory / "state" / "ca.pem").read_bytes())
    config = directory / "monitor.toml"
    config.write_text(
        f"""
[[keystore]]
name = "web"
format = "pem"
key = "web.key"
certificate = "web.crt"
url = "{server.url}"
ca_certificate = "ca.crt"
renew_before_days = 30
post_renew = "echo renewed >> {directory / "hook.log"}"
"""
    )
    return config


@pytest.fixture
def keystore(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A keystore with a 3-day certificate, then a server issuing 60-day ones."""
    short = Served(tmp_path, "--validity", "3")
    try:
        _enroll(short, tmp_path)
    finally:
        short.stop()
    served = Served(tmp_path, "--validity", "60")
    yield tmp_path, _config(tmp_path, served)
    served.stop()


def _consistent(directory: Path) -> Certificate:
    """The keystore is whole: its key belongs to its certificate, which chains to the CA."""
    certificate = Certificate.load((directory / "web.crt").read_bytes())
    key = load_private_key((directory / "web.key").read_bytes())
    assert key.public_key_der == certificate.public_key_der
    verified = openssl(["verify", "-CAfile", str(directory / "ca.crt"), str(directory / "web.crt")])
    assert b": OK" in verified
    return certificate


def test_a_due_keystore_is_renewed_once_with_backups_and_the_hook(
    keystore: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, config = keystore
    old = _consistent(directory)
    assert main(["monitor", "status", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "DUE"
    assert main(["monitor", "run", "--config", str(config)]) == 0
    assert "renewed" in capsys.readouterr().out
    new = _consistent(directory)
    assert new.public_key_der != old.public_key_der
    assert new.subject == old.subject
    backups = sorted(p.name for p in directory.glob("web.*.bak"))
    assert len(backups) == 2
    assert backups[0].startswith("web.crt.")
    assert (directory / "hook.log").read_text() == "renewed\n"
    # A second run right after has nothing to do.
    assert main(["monitor", "run", "--config", str(config)]) == 0
    assert "nothing-to-do" in capsys.readouterr().out
    assert _consistent(directory) == new
    assert (directory / "hook.log").read_text() == "renewed\n"


def test_a_pending_renewal_resumes_with_a_poll_never_a_second_enrollment(tmp_path: Path) -> None:
    short = Served(tmp_path, "--validity", "3")
    try:
        _enroll(short, tmp_path)
    finally:
        short.stop()
    served = Served(tmp_path, "--validity", "60", "--manual")
    try:
        config = _config(tmp_path, served)
        assert main(["monitor", "run", "--config", str(config)]) == monitor_run.EXIT_PENDING
        state = json.loads((tmp_path / "monitor.toml.state.json").read_text())
        transaction = state["pending"]["web"]["transaction_id"]
        assert (tmp_path / "web.key.new").exists()  # the new key waits, 0600
        assert oct((tmp_path / "web.key.new").stat().st_mode & 0o777) == "0o600"
        # Still pending: the next run polls (and does not enroll again).
        assert main(["monitor", "run", "--config", str(config)]) == monitor_run.EXIT_PENDING
        assert (
            json.loads((tmp_path / "monitor.toml.state.json").read_text())["pending"]["web"][
                "transaction_id"
            ]
            == transaction
        )
        state_dir = str(tmp_path / "state")
        approved = subprocess.run(
            [sys.executable, "-m", "pyscep", "serve", "approve", state_dir, transaction],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert approved.returncode == 0, approved.stderr
        assert main(["monitor", "run", "--config", str(config)]) == 0
        _consistent(tmp_path)
        listed = subprocess.run(
            [sys.executable, "-m", "pyscep", "serve", "list", str(tmp_path / "state")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert transaction not in listed.stdout  # issued: no longer pending
    finally:
        served.stop()


def test_a_crash_in_the_middle_of_the_swap_is_finished_by_the_next_run(
    keystore: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, config = keystore
    real = monitor_run._finish_swap

    def crash_after_the_first_file(keystore: object, swap: dict[str, str]) -> None:
        target, new = next(iter(swap.items()))
        Path(new).replace(target)
        raise OSError("killed")

    monkeypatch.setattr(monitor_run, "_finish_swap", crash_after_the_first_file)
    outcomes = monitor_run.renew_all(config, datetime.now(timezone.utc))
    assert outcomes[0].result == "failed"
    # On disk now: the new key with the old certificate; the swap is recorded.
    state = json.loads((directory / "monitor.toml.state.json").read_text())
    assert "web" in state["swaps"]
    monkeypatch.setattr(monitor_run, "_finish_swap", real)
    outcomes = monitor_run.renew_all(config, datetime.now(timezone.utc))
    assert outcomes[0].result == "nothing-to-do"  # the swap was finished first
    _consistent(directory)


def test_two_runs_at_once_do_not_both_renew(
    keystore: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = keystore
    with (config.with_name(config.name + ".lock")).open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["monitor", "run", "--config", str(config)]) == 2
    assert "holds the lock" in capsys.readouterr().err


def test_an_expired_certificate_is_reported_not_renewed(
    keystore: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = keystore
    later = (datetime.now(timezone.utc) + timedelta(days=10)).isoformat()
    assert main(["monitor", "run", "--config", str(config), "--now", later]) == 1
    assert "expired" in capsys.readouterr().out
