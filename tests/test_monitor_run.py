"""``pyscep monitor run`` against a real ``pyscep serve``: renew, resume PENDING, crash, lock."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pyscep import Certificate, load_private_key
from pyscep.cli import main
from pyscep.monitor import run as monitor_run
from pyscep.testing import make_identity
from tests.support.helpers import openssl
from tests.support.served import CHALLENGE, Served


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


def _enroll_for_three_days(directory: Path) -> None:
    """A keystore in ``directory`` whose certificate lives 3 days: due at once."""
    short = Served(directory, "--validity", "3")
    try:
        _enroll(short, directory)
    finally:
        short.stop()


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
    _enroll_for_three_days(tmp_path)
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
    _enroll_for_three_days(tmp_path)
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
        approve = ["serve", "approve", "--state-dir", state_dir, transaction]
        approved = subprocess.run(
            [sys.executable, "-m", "pyscep", *approve],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert approved.returncode == 0, approved.stderr
        assert main(["monitor", "run", "--config", str(config)]) == 0
        _consistent(tmp_path)
        listed = subprocess.run(
            [sys.executable, "-m", "pyscep", "serve", "list", "--state-dir", state_dir],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert transaction not in listed.stdout  # issued: no longer pending
    finally:
        served.stop()


class _Killed(BaseException):
    """Stands for the process dying: nothing in the monitor catches it."""


#: Every point of a renewal where the run is stopped, in order.
STEPS = (
    "new key written",
    "transaction recorded",
    "answer received",
    "new keystore staged",
    "old keystore backed up",
    "swap recorded",
    "replaced web.key",
    "replaced web.crt",
    "swap finished",
    "hook ran",
)


def _issued(directory: Path) -> int:
    with closing(sqlite3.connect(directory / "state" / "state.sqlite")) as db:
        (count,) = db.execute("SELECT count(*) FROM transactions WHERE state = 'issued'").fetchone()
    return int(count)


def _state(directory: Path) -> dict[str, dict[str, object]]:
    path = directory / "monitor.toml.state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _whole_or_recorded(directory: Path) -> str:
    """After a stop: the keystore is whole, or the swap that makes it whole is recorded."""
    certificate = Certificate.load((directory / "web.crt").read_bytes())
    key = load_private_key((directory / "web.key").read_bytes())
    if key.public_key_der == certificate.public_key_der:
        _consistent(directory)
        return "whole"
    swap = _state(directory)["swaps"]["web"]
    assert isinstance(swap, dict)
    # The file not yet replaced is staged, and it belongs with the one already moved.
    staged = {Path(target).name: Path(new) for target, new in swap["replace"].items()}
    assert staged["web.crt"].exists()
    moved = Certificate.load(staged["web.crt"].read_bytes())
    assert moved.public_key_der == key.public_key_der
    return "swap recorded"


def _midway(directory: Path) -> str:
    state = _state(directory)
    begun = (directory / "web.key.new").exists() or any(state.get(k) for k in ("pending", "swaps"))
    return ", midway" if begun else ""


@pytest.mark.parametrize("step", STEPS)
def test_a_run_stopped_at_any_step_leaves_a_usable_keystore_and_the_next_run_finishes(
    keystore: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    directory, config = keystore
    old = _consistent(directory)

    def die_at(reached: str) -> None:
        if reached == step:
            raise _Killed(reached)

    monkeypatch.setattr(monitor_run, "_reached", die_at)
    with pytest.raises(_Killed):
        monitor_run.renew_all(config, datetime.now(timezone.utc))
    monkeypatch.undo()
    on_disk = _whole_or_recorded(directory)
    assert on_disk == ("swap recorded" if step == "replaced web.key" else "whole")
    # The next runs pick up where it stopped; a request never sent is asked about once
    # (the CA knows no such transaction), then the renewal starts afresh.
    results = [monitor_run.renew_all(config, datetime.now(timezone.utc))[0].result]
    if results[0] == "failed":
        assert step == "transaction recorded"
        results.append(monitor_run.renew_all(config, datetime.now(timezone.utc))[0].result)
    assert results[-1] == "renewed"
    new = _consistent(directory)
    assert new.public_key_der != old.public_key_der
    assert _issued(directory) == 2  # the first enrollment and one renewal, never two
    hooks = (directory / "hook.log").read_text().splitlines()
    assert hooks == (["renewed", "renewed"] if step == "hook ran" else ["renewed"])
    assert len(list(directory.glob("web.key.*.bak"))) >= 1
    assert not list(directory.glob("*.new"))
    assert monitor_run.renew_all(config, datetime.now(timezone.utc))[0].result == "nothing-to-do"


def test_kill_9_at_any_moment_never_leaves_a_broken_keystore(keystore: tuple[Path, Path]) -> None:
    directory, config = keystore
    # A hook that takes its time: the swap stays recorded until it has run, so kills
    # land "midway" however the machine's load shifts the rest of the run.
    config.write_text(config.read_text().replace('post_renew = "', 'post_renew = "sleep 0.3; '))
    old = _consistent(directory)
    command = [sys.executable, "-m", "pyscep", "monitor", "run", "--config", str(config)]
    seen: list[str] = []
    # The whole run takes a few tenths of a second: kills 10 ms apart land all along it.
    delay = 0.1
    for _ in range(400):  # up to 4 s, for a slow machine
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            seen.append(_whole_or_recorded(directory) + _midway(directory))
            delay += 0.01
            continue
        # Finished: "renewed", or "nothing-to-do" when a killed run had completed the swap.
        if process.returncode == 0:
            break
        delay += 0.01
    else:
        pytest.fail("no run was ever allowed to finish")
    # Some kills came after the renewal began (a new key or a transaction on disk).
    assert any("midway" in what for what in seen)
    new = _consistent(directory)
    assert new.public_key_der != old.public_key_der
    assert _issued(directory) == 2
    final = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert final.returncode == 0, final.stderr
    assert "nothing-to-do" in final.stdout


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


def test_file_modes_are_kept_and_key_type_is_honoured(keystore: tuple[Path, Path]) -> None:
    directory, config = keystore
    (directory / "web.key").chmod(0o640)
    (directory / "web.crt").chmod(0o604)
    config.write_text(config.read_text() + 'key_type = "rsa3072"\n')
    assert monitor_run.renew_all(config, datetime.now(timezone.utc))[0].result == "renewed"
    assert oct((directory / "web.key").stat().st_mode & 0o777) == "0o640"
    assert oct((directory / "web.crt").stat().st_mode & 0o777) == "0o604"
    assert _consistent(directory).public_key.bits == 3072


def test_a_pkcs12_keystore_renews_and_still_opens_with_openssl(tmp_path: Path) -> None:
    _enroll_for_three_days(tmp_path)
    (tmp_path / "ca.crt").write_bytes((tmp_path / "state" / "ca.pem").read_bytes())
    (tmp_path / "vpn.pass").write_text("correct horse\n")
    openssl(
        [
            "pkcs12", "-export", "-inkey", str(tmp_path / "web.key"),
            "-in", str(tmp_path / "web.crt"), "-certfile", str(tmp_path / "ca.crt"),
            "-name", "vpn", "-passout", "pass:correct horse", "-out", str(tmp_path / "vpn.p12"),
        ]
    )  # fmt: skip
    (tmp_path / "vpn.p12").chmod(0o600)
    old = Certificate.load((tmp_path / "web.crt").read_bytes())
    served = Served(tmp_path, "--validity", "60")
    try:
        config = tmp_path / "monitor.toml"
        config.write_text(
            f'[[keystore]]\nname = "vpn"\nformat = "pkcs12"\npath = "vpn.p12"\n'
            f'passphrase_file = "vpn.pass"\nurl = "{served.url}"\nca_certificate = "ca.crt"\n'
            f"renew_before_days = 30\n"
        )
        assert monitor_run.renew_all(config, datetime.now(timezone.utc))[0].result == "renewed"
    finally:
        served.stop()
    opened = ["pkcs12", "-in", str(tmp_path / "vpn.p12"), "-passin", "pass:correct horse"]
    certificates = openssl([*opened, "-nokeys"])
    key = load_private_key(openssl([*opened, "-nocerts", "-nodes"]))
    new = Certificate.load(certificates)  # the first PEM block: the end-entity certificate
    assert key.public_key_der == new.public_key_der != old.public_key_der
    assert new.subject == old.subject
    assert certificates.count(b"BEGIN CERTIFICATE") == 2  # the CA went along, as before
    (tmp_path / "new.crt").write_bytes(certificates)
    assert b": OK" in openssl(
        ["verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "new.crt")]
    )
    assert oct((tmp_path / "vpn.p12").stat().st_mode & 0o777) == "0o600"
    assert len(list(tmp_path.glob("vpn.p12.*.bak"))) == 1
    assert not list(tmp_path.glob("vpn.p12.*new"))


def test_ca_rollover_fetches_the_next_ca_then_follows_the_server_when_it_switches(
    tmp_path: Path,
) -> None:
    _enroll_for_three_days(tmp_path)
    served = Served(tmp_path, "--validity", "60", "--next-ca")
    state = tmp_path / "state"
    try:
        config = _config(tmp_path, served)
        outcome = monitor_run.renew_all(config, datetime.now(timezone.utc))[0]
        assert outcome.result == "renewed"
        assert "next CA fetched and verified" in outcome.detail
    finally:
        served.stop()
    next_ca = Certificate.load((state / "next-ca.pem").read_bytes())
    assert Certificate.load((tmp_path / "ca.crt.next").read_bytes()) == next_ca
    old_ca = Certificate.load((tmp_path / "ca.crt").read_bytes())
    assert old_ca != next_ca
    # Still the old CA's: the monitor waits for the server to switch.
    outcome = monitor_run.renew_all(config, datetime.now(timezone.utc))[0]
    assert outcome.result == "failed"  # the server is down: the check needs it
    # The CA rolls over: the next CA becomes the server's CA.
    for suffix in ("pem", "key"):
        (state / f"next-ca.{suffix}").replace(state / f"ca.{suffix}")
    old_url = served.url
    served = Served(tmp_path, "--validity", "60")
    config.write_text(config.read_text().replace(old_url, served.url))
    try:
        outcome = monitor_run.renew_all(config, datetime.now(timezone.utc))[0]
    finally:
        served.stop()
    assert outcome.result == "nothing-to-do", outcome.detail
    assert "switched to the next CA (the server uses it)" in outcome.detail
    assert Certificate.load((tmp_path / "ca.crt").read_bytes()) == next_ca
    assert not (tmp_path / "ca.crt.next").exists()
    (backup,) = tmp_path.glob("ca.crt.*.bak")
    assert Certificate.load(backup.read_bytes()) == old_ca
    assert "web" not in _state(tmp_path)["next_ca"]


def test_the_next_ca_is_switched_to_when_the_current_one_expires(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    current = make_identity("Old CA", now=now, ca=True, days=10)
    following = make_identity("New CA", now=now, ca=True, days=3650)
    web = make_identity("web.example", now=now, issuer=current, days=200)
    (tmp_path / "ca.crt").write_bytes(current.certificate.der)
    (tmp_path / "web.crt").write_bytes(web.certificate.der)
    (tmp_path / "web.key").write_bytes(web.key_der)
    config = tmp_path / "monitor.toml"
    config.write_text(
        '[[keystore]]\nname = "web"\nformat = "pem"\nkey = "web.key"\n'
        'certificate = "web.crt"\nurl = "http://127.0.0.1:9/scep"\nca_certificate = "ca.crt"\n'
    )
    # A next CA as an earlier run kept it (fetched by GetNextCACert and verified then).
    waiting = {"next_ca": {"web": following.certificate.der.hex()}}
    (tmp_path / "monitor.toml.state.json").write_text(json.dumps(waiting))
    assert monitor_run.renew_all(config, now + timedelta(days=5))[0].result == "failed"
    assert Certificate.load((tmp_path / "ca.crt").read_bytes()) == current.certificate
    outcome = monitor_run.renew_all(config, now + timedelta(days=11))[0]
    # Switched before talking to the CA (which is not there: the run still fails).
    assert outcome.result == "failed"
    assert Certificate.load((tmp_path / "ca.crt").read_bytes()) == following.certificate
    (backup,) = tmp_path.glob("ca.crt.*.bak")
    assert Certificate.load(backup.read_bytes()) == current.certificate
    assert _state(tmp_path)["next_ca"] == {}


def test_a_link_planted_at_a_backup_name_is_never_followed_by_a_renewal_as_root(
    keystore: tuple[Path, Path],
) -> None:
    directory, config = keystore
    # A root-only file elsewhere, and a keystore that belongs to the service user.
    victims = directory / "victims"
    victims.mkdir(mode=0o700)
    victim = victims / "shadow"
    victim.write_bytes(b"root-only secret\n")
    victim.chmod(0o600)
    for name in ("web.key", "web.crt"):
        os.chown(directory / name, 4242, 4242)
    old_key = (directory / "web.key").read_bytes()
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    (directory / f"web.key.{stamp}.bak").symlink_to(victim)
    assert monitor_run.renew_all(config, now)[0].result == "renewed"
    status = victim.stat()
    assert victim.read_bytes() == b"root-only secret\n"
    assert (status.st_mode & 0o777, status.st_uid, status.st_gid) == (0o600, 0, 0)
    assert (directory / f"web.key.{stamp}.bak").is_symlink()  # left as it was found
    assert (directory / f"web.key.{stamp}.1.bak").read_bytes() == old_key
    _consistent(directory)
    assert (directory / "web.key").stat().st_uid == 4242
