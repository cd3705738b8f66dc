"""Files the monitor and the client write (often as root) cannot be redirected.

Links planted at every name a write uses (temporary, backup, staged, lock, state, target),
hard links, pre-created files, directories others can write, any umask: a victim file
elsewhere is never touched, and every write is exclusive, link-safe and has its mode from
the start. The tests run as root (as in CI), which is when it matters.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import pyscep
from pyscep import Certificate
from pyscep._appkit.durable import SafeDirectory, UnsafeFileError, write_durably
from pyscep.cli import main
from pyscep.messages import build_csr
from pyscep.monitor import run as monitor_run
from pyscep.testing import make_identity
from tests.support.helpers import NOW, pem_key
from tests.support.hostile_ca import HostileCA, monitor_keystore, served

CA = make_identity("Safe files CA", now=NOW, ca=True)
WEB = make_identity("web.example", now=NOW)
#: The service user that owns the keystore (nginx, say).
SERVICE = 4242
SECRET = b"root-only secret\n"
STAMP = NOW.strftime("%Y%m%dT%H%M%S")


def _victim(directory: Path, name: str) -> Path:
    """A root-only file outside the keystore, that nothing may write or hand over."""
    directory.mkdir(mode=0o700, exist_ok=True)
    victim = directory / name
    victim.write_bytes(SECRET)
    victim.chmod(0o600)
    return victim


def _untouched(victim: Path) -> None:
    status = victim.stat()
    assert victim.read_bytes() == SECRET
    assert (stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid) == (0o600, 0, 0)


# --- write_durably: the function every other writer of the CLI goes through ------------


def test_write_durably_never_writes_through_a_link_at_its_old_temporary_name(
    tmp_path: Path,
) -> None:
    victim = _victim(tmp_path / "victims", "shadow")
    (tmp_path / "ca.key.tmp").symlink_to(victim)
    write_durably(tmp_path / "ca.key", b"new key\n", mode=0o600)
    _untouched(victim)
    assert (tmp_path / "ca.key").read_bytes() == b"new key\n"
    assert not (tmp_path / "ca.key").is_symlink()


def test_a_link_or_a_hard_link_at_the_target_is_replaced_its_file_untouched(
    tmp_path: Path,
) -> None:
    symlinked, hard = _victim(tmp_path / "victims", "a"), _victim(tmp_path / "victims", "b")
    (tmp_path / "one.key").symlink_to(symlinked)
    os.link(hard, tmp_path / "two.key")
    for name in ("one.key", "two.key"):
        write_durably(tmp_path / name, b"new key\n", mode=0o600)
        assert (tmp_path / name).read_bytes() == b"new key\n"
        assert not (tmp_path / name).is_symlink()
    _untouched(symlinked)
    _untouched(hard)


def test_a_device_or_a_pipe_at_the_target_is_not_replaced(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "stdout").symlink_to(tmp_path / "pipe")
    for name in ("pipe", "stdout"):
        with pytest.raises(UnsafeFileError, match="not a regular file: not replacing it"):
            write_durably(tmp_path / name, b"certificate\n", mode=0o644)
    assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode)
    assert (tmp_path / "stdout").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "stdout"]


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_the_mode_is_the_one_asked_for_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_durably(tmp_path / "web.crt", b"certificate\n", mode=0o644)
        write_durably(tmp_path / "web.key", b"key\n", mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "web.crt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "web.key").stat().st_mode) == 0o600


UNTRUSTED = [
    (0o777, 0, 0, "writable by anyone"),
    (0o775, 0, SERVICE, f"writable by group {SERVICE}"),
    (0o755, SERVICE, 0, f"owned by uid {SERVICE}"),
]


@pytest.mark.parametrize(("mode", "uid", "gid", "why"), UNTRUSTED)
def test_a_directory_someone_else_can_write_is_refused_and_named(
    tmp_path: Path, mode: int, uid: int, gid: int, why: str
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, uid, gid)
    shared.chmod(mode)
    with pytest.raises(UnsafeFileError, match=why) as refused:
        write_durably(shared / "web.key", b"key\n", mode=0o600)
    assert str(shared) in str(refused.value)
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize(("mode", "gid"), [(0o1777, SERVICE), (0o775, 0), (0o700, 0)])
def test_a_sticky_directory_or_one_only_root_can_write_is_trusted(
    tmp_path: Path, mode: int, gid: int
) -> None:
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    os.chown(trusted, 0, gid)
    trusted.chmod(mode)
    write_durably(trusted / "web.key", b"key\n", mode=0o600)
    assert (trusted / "web.key").read_bytes() == b"key\n"


# --- SafeDirectory: backups, locks, reads -------------------------------------------------


def test_a_backup_never_writes_through_what_is_at_its_name_and_keeps_mode_and_owner(
    tmp_path: Path,
) -> None:
    victims = tmp_path / "victims"
    symlinked, hard = _victim(victims, "symlinked"), _victim(victims, "hard")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "web.key").write_bytes(b"old key\n")
    os.chown(keys / "web.key", SERVICE, SERVICE)
    (keys / "web.key").chmod(0o640)
    os.utime(keys / "web.key", (1_000_000_000, 1_000_000_000))
    (keys / f"web.key.{STAMP}.bak").symlink_to(symlinked)
    os.link(hard, keys / f"web.key.{STAMP}.1.bak")
    (keys / f"web.key.{STAMP}.2.bak").write_bytes(b"an older backup\n")
    with SafeDirectory(keys) as directory:
        name = directory.backup("web.key", STAMP)
    assert name == f"web.key.{STAMP}.3.bak"
    _untouched(symlinked)
    _untouched(hard)
    assert (keys / f"web.key.{STAMP}.2.bak").read_bytes() == b"an older backup\n"
    copy = (keys / name).stat()
    assert (keys / name).read_bytes() == b"old key\n"
    assert (stat.S_IMODE(copy.st_mode), copy.st_uid, copy.st_gid) == (0o640, SERVICE, SERVICE)
    assert copy.st_mtime == 1_000_000_000


def test_a_lock_file_is_never_truncated_never_a_link_and_held_once(tmp_path: Path) -> None:
    (tmp_path / "run.lock").write_bytes(b"whatever was there\n")
    with SafeDirectory(tmp_path) as directory:
        with directory.lock("run.lock"), pytest.raises(BlockingIOError):
            directory.lock("run.lock")
        assert (tmp_path / "run.lock").read_bytes() == b"whatever was there\n"
        victim = _victim(tmp_path / "victims", "passwd")
        (tmp_path / "other.lock").symlink_to(victim)
        with pytest.raises(UnsafeFileError, match="symbolic link"):
            directory.lock("other.lock")
    _untouched(victim)


def test_reads_of_its_own_files_refuse_links_and_anything_but_a_regular_file(
    tmp_path: Path,
) -> None:
    victim = _victim(tmp_path / "victims", "shadow")
    (tmp_path / "state.json").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    with SafeDirectory(tmp_path) as directory:
        with pytest.raises(UnsafeFileError, match="symbolic link"):
            directory.read("state.json", follow=False)
        with pytest.raises(UnsafeFileError, match="not a regular file"):
            directory.read("fifo")  # and does not block
        with pytest.raises(UnsafeFileError, match="not a file name"):
            directory.read("../victims/shadow")


# --- the monitor, end to end --------------------------------------------------------------


def _keystore(directory: Path, url: str) -> Path:
    """A due keystore owned by the service user: key 0640, certificate 0644."""
    old = CA.issue(build_csr(pyscep.load_private_key(WEB.key_der), "CN=web"), now=NOW, days=10)
    config = monitor_keystore(directory, key=WEB, certificate=old, ca=CA.certificate, url=url)
    for name, mode in (("web.key", 0o640), ("web.crt", 0o644)):
        os.chown(directory / name, SERVICE, SERVICE)
        (directory / name).chmod(mode)
    return config


@pytest.fixture
def ca_url() -> Iterator[str]:
    with served(HostileCA.honest(CA, NOW).answer) as url:
        yield url


def _renewed(directory: Path) -> None:
    """The keystore is whole, renewed, and still the service user's."""
    key = pyscep.load_private_key((directory / "web.key").read_bytes())
    certificate = Certificate.load((directory / "web.crt").read_bytes())
    assert key.public_key_der == certificate.public_key_der
    assert key.public_key_der != pyscep.load_private_key(WEB.key_der).public_key_der
    for name, mode in (("web.key", 0o640), ("web.crt", 0o644)):
        status = (directory / name).stat(follow_symlinks=False)
        assert stat.S_ISREG(status.st_mode)
        assert (stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid) == (
            mode,
            SERVICE,
            SERVICE,
        )


def test_links_planted_at_every_name_a_renewal_writes_are_never_followed(
    tmp_path: Path, ca_url: str
) -> None:
    config = _keystore(tmp_path, ca_url)
    victims = tmp_path / "victims"
    planted = {
        # The backups' names (the run's time is known), then the temporary names
        # the monitor used to write through, then the staged files.
        f"web.key.{STAMP}.bak": "symlink",
        f"web.crt.{STAMP}.bak": "hard link",
        "web.key.new.tmp": "symlink",
        "web.crt.new.tmp": "symlink",
        "monitor.toml.state.json.tmp": "symlink",
        "web.key.new": "symlink",
        "web.crt.new": "symlink",
    }
    for index, (name, kind) in enumerate(planted.items()):
        victim = _victim(victims, f"victim-{index}")
        if kind == "symlink":
            (tmp_path / name).symlink_to(victim)
        else:
            os.link(victim, tmp_path / name)
    (tmp_path / f"web.key.{STAMP}.1.bak").write_bytes(b"an older backup\n")
    (outcome,) = monitor_run.renew_all(config, NOW)
    assert outcome.result == "renewed", outcome.detail
    for victim in victims.iterdir():
        _untouched(victim)
    _renewed(tmp_path)
    # The old files are kept under the next free names, as they were.
    assert (tmp_path / f"web.key.{STAMP}.1.bak").read_bytes() == b"an older backup\n"
    key_backup, certificate_backup = (
        tmp_path / f"web.key.{STAMP}.2.bak",
        tmp_path / f"web.crt.{STAMP}.1.bak",
    )
    assert key_backup.read_bytes() == pem_key(WEB)
    for backup, mode in ((key_backup, 0o640), (certificate_backup, 0o644)):
        status = backup.stat()
        assert (stat.S_IMODE(status.st_mode), status.st_uid) == (mode, SERVICE)


@pytest.mark.parametrize("name", ["monitor.toml.lock", "monitor.toml.state.json"])
def test_a_link_at_the_lock_or_the_state_file_stops_the_run_and_says_so(
    tmp_path: Path, ca_url: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _keystore(tmp_path, ca_url)
    victim = _victim(tmp_path / "victims", "passwd")
    (tmp_path / name).symlink_to(victim)
    assert main(["monitor", "run", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / name} is a symbolic link" in error
    _untouched(victim)
    assert (tmp_path / "web.key").read_bytes() == pem_key(WEB)


def test_the_lock_file_of_a_run_is_never_truncated(tmp_path: Path, ca_url: str) -> None:
    config = _keystore(tmp_path, ca_url)
    (tmp_path / "monitor.toml.lock").write_bytes(b"left by an admin\n")
    assert monitor_run.renew_all(config, NOW)[0].result == "renewed"
    assert (tmp_path / "monitor.toml.lock").read_bytes() == b"left by an admin\n"


def test_a_keystore_link_is_replaced_by_the_new_file_and_its_target_kept(
    tmp_path: Path, ca_url: str
) -> None:
    config = _keystore(tmp_path, ca_url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "web.key").rename(elsewhere / "web.key")
    (tmp_path / "web.key").symlink_to(elsewhere / "web.key")
    assert monitor_run.renew_all(config, NOW)[0].result == "renewed"
    _renewed(tmp_path)
    assert (elsewhere / "web.key").read_bytes() == pem_key(WEB)


@pytest.mark.parametrize(("mode", "uid", "gid", "why"), UNTRUSTED)
def test_a_keystore_directory_someone_else_can_write_is_refused(
    tmp_path: Path, ca_url: str, mode: int, uid: int, gid: int, why: str
) -> None:
    config = _keystore(tmp_path, ca_url)
    tls = tmp_path / "tls"
    tls.mkdir()
    for name in ("web.key", "web.crt"):
        (tmp_path / name).rename(tls / name)
    config.write_text(config.read_text().replace('"web.', '"tls/web.'))
    os.chown(tls, uid, gid)
    tls.chmod(mode)
    (outcome,) = monitor_run.renew_all(config, NOW)
    assert outcome.result == "failed"
    assert str(tls) in outcome.detail
    assert why in outcome.detail
    assert sorted(p.name for p in tls.iterdir()) == ["web.crt", "web.key"]


def test_a_configuration_directory_anyone_can_write_is_refused(
    tmp_path: Path, ca_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _keystore(tmp_path, ca_url)
    tmp_path.chmod(0o777)
    try:
        assert main(["monitor", "run", "--config", str(config)]) == 2
    finally:
        tmp_path.chmod(0o700)
    assert f"{tmp_path}: writable by anyone" in capsys.readouterr().err
    assert not (tmp_path / "monitor.toml.lock").exists()


def test_a_swap_record_cannot_make_the_monitor_move_other_files(
    tmp_path: Path, ca_url: str
) -> None:
    config = _keystore(tmp_path, ca_url)
    victim = _victim(tmp_path / "victims", "shadow")
    (tmp_path / "mine").write_bytes(b"planted by whoever wrote the state file\n")
    swap = {"replace": {str(victim): str(tmp_path / "mine")}, "discard": []}
    (tmp_path / "monitor.toml.state.json").write_text(
        '{"swaps": {"web": ' + str(swap).replace("'", '"') + "}}"
    )
    (outcome,) = monitor_run.renew_all(config, NOW)
    assert outcome.result == "failed"
    assert "names other files than the keystore's" in outcome.detail
    _untouched(victim)


# --- every write, seen from inside: the audit hook ----------------------------------------

#: Recordings in progress; the hook (installed once, never removable) appends to each.
_RECORDINGS: list[list[tuple[str, tuple[Any, ...]]]] = []
_EVENTS = {"open", "os.chmod", "os.chown", "os.rename", "os.remove", "os.utime"}
_INSTALLED: list[object] = []


def _hook(event: str, arguments: tuple[Any, ...]) -> None:
    if _RECORDINGS and event in _EVENTS and "__pycache__" not in str(arguments[0]):
        for recording in _RECORDINGS:
            recording.append((event, arguments))


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """What the process does to files while the test runs; os.open also records its mode."""
    if _hook not in _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED.append(_hook)
    recording: list[tuple[str, tuple[Any, ...]]] = []
    real_open = os.open

    def spying_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        recording.append(("os.open mode", (path, flags, mode)))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    _RECORDINGS.append(recording)
    yield recording
    _RECORDINGS.remove(recording)


def _violations(recording: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    """Every file operation that could follow a link, truncate, or widen a mode."""
    found = []
    for event, arguments in recording:
        if event == "open":
            path, _, flags = arguments
            if flags & os.O_TRUNC:
                found.append(f"open {path} with O_TRUNC")
            if flags & os.O_CREAT and not flags & os.O_NOFOLLOW:
                found.append(f"open {path} may create through a link")
            if flags & os.O_CREAT and not flags & os.O_EXCL and not str(path).endswith(".lock"):
                found.append(f"open {path} may open an existing file to write it")
        elif event in ("os.chmod", "os.chown", "os.utime") and not isinstance(arguments[0], int):
            found.append(f"{event} {arguments[0]} by name")
        elif event == "os.rename" and -1 in (arguments[2], arguments[3]):
            found.append(f"rename {arguments[0]} -> {arguments[1]} by path")
        elif event == "os.remove" and arguments[1] == -1:
            found.append(f"remove {arguments[0]} by path")
    return found


def test_every_file_a_renewal_writes_is_created_exclusively_with_its_mode(
    tmp_path: Path, ca_url: str, audited: list[tuple[str, tuple[Any, ...]]]
) -> None:
    config = _keystore(tmp_path, ca_url)
    audited.clear()  # the test's own set-up is not the monitor's doing
    old = os.umask(0)  # nothing may rely on the umask to narrow a mode
    try:
        assert monitor_run.renew_all(config, NOW)[0].result == "renewed"
    finally:
        os.umask(old)
    assert _violations(audited) == []
    created = {
        str(path): mode
        for event, (path, flags, mode) in (e for e in audited if e[0] == "os.open mode")
        if flags & os.O_CREAT
    }
    # Each backup exists with its original's mode from the first instant; the new key 0600.
    assert created[f"web.key.{STAMP}.bak"] == 0o640
    assert created[f"web.crt.{STAMP}.bak"] == 0o644
    (key_temporary,) = (path for path in created if path.startswith(".web.key.new."))
    assert created[key_temporary] == 0o600
    assert created["monitor.toml.lock"] == 0o600


def _client_enroll(out: Path, *, pending: bool = False) -> int:
    """``pyscep client enroll`` into ``out``, against a CA that issues (or says PENDING)."""
    now = datetime.now(timezone.utc)  # pyscep client judges at the real time
    ca = make_identity("Client CA", now=now, ca=True)
    with served(HostileCA.honest(ca, now, pending=pending).answer) as url:
        return main(
            [
                "client", "enroll", url, "--subject", "CN=device", "--challenge", "s3cret",
                "--key-out", str(out / "device.key"), "--cert-out", str(out / "device.crt"),
            ]
        )  # fmt: skip


def test_every_file_the_client_writes_is_created_exclusively_with_its_mode(
    tmp_path: Path, audited: list[tuple[str, tuple[Any, ...]]]
) -> None:
    assert _client_enroll(tmp_path, pending=True) == 3
    assert _client_enroll(tmp_path) == 0
    assert _violations(audited) == []
    assert stat.S_IMODE((tmp_path / "device.key").stat().st_mode) == 0o600


# --- the client, end to end ---------------------------------------------------------------


def test_the_client_writes_its_key_certificate_and_pending_file_through_no_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victims = tmp_path / "victims"
    out = tmp_path / "out"
    out.mkdir()
    names = ("device.key", "device.key.tmp", "device.crt", "device.pending.json")
    for name in names:
        (out / name).symlink_to(_victim(victims, name))
    assert _client_enroll(out, pending=True) == 3
    assert _client_enroll(out) == 0, capsys.readouterr().err
    for victim in victims.iterdir():
        _untouched(victim)
    for name, mode in (
        ("device.key", 0o600),
        ("device.crt", 0o644),
        ("device.pending.json", 0o600),
    ):
        status = (out / name).stat(follow_symlinks=False)
        assert stat.S_ISREG(status.st_mode)
        assert stat.S_IMODE(status.st_mode) == mode
    key = pyscep.load_private_key((out / "device.key").read_bytes())
    assert Certificate.load((out / "device.crt").read_bytes()).public_key_der == key.public_key_der


def test_the_client_refuses_an_output_directory_anyone_can_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert _client_enroll(shared) == 2
    assert f"{shared}: writable by anyone" in capsys.readouterr().err
    assert list(shared.iterdir()) == []


def test_a_log_grows_in_place_and_never_through_a_link(tmp_path: Path) -> None:
    """``pyscep serve --log``: appended to, made 0640 at most if new; a planted link is
    refused."""
    from pyscep._appkit.durable import append

    log = tmp_path / "decisions.jsonl"
    append(log, b"one\n")
    append(log, b"two\n")
    assert log.read_bytes() == b"one\ntwo\n"
    assert stat.S_IMODE(log.stat().st_mode) & ~0o640 == 0  # the umask may narrow it
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's file\n")
    planted = tmp_path / "planted.jsonl"
    planted.symlink_to(victim)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        append(planted, b"injected\n")
    assert victim.read_bytes() == b"root's file\n"


def test_a_new_file_opened_for_writing_is_created_exclusively_with_its_mode(
    tmp_path: Path,
) -> None:
    victim = _victim(tmp_path / "victims", "log")
    (tmp_path / "planted.log").symlink_to(victim)
    with SafeDirectory(tmp_path) as directory:
        with pytest.raises(FileExistsError):
            directory.open_new("planted.log", mode=0o600)
        with directory.open_new("run.log", mode=0o640) as log:
            log.write(b"written through the descriptor")
        with pytest.raises(FileExistsError):
            directory.open_new("run.log", mode=0o600)
    _untouched(victim)
    assert (tmp_path / "run.log").read_bytes() == b"written through the descriptor"
    assert stat.S_IMODE((tmp_path / "run.log").stat().st_mode) == 0o640
