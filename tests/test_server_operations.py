"""Running the reference server in production: its settings (a TOML file, PYSCEP_*
variables, options), the admin port (health, readiness, Prometheus metrics scraped with
prometheus_client's own parser), and one JSON line per decision on gunicorn's stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import pyscep
from pyscep.messages import build_csr, build_pkcs_req, self_signed_signer
from pyscep.server import (
    AdminApplication,
    ReferenceServer,
    ServeConfigError,
    ServeOptions,
    load_settings,
    options_from_environment,
)
from pyscep.server.settings import SETTINGS
from pyscep.testing import make_identity
from tests.support.helpers import current_time
from tests.support.served import CHALLENGE, Served, free_port

# --- settings -----------------------------------------------------------------------------


def test_a_key_in_the_file_yields_to_its_variable_and_a_variable_to_the_option(
    tmp_path: Path,
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(
        'state_dir = "state"\nchallenge = "from-the-file"\nvalidity_days = 30\n'
        "crl_days = 3\nport = 9000\nadmin_port = 9100\nmanual = true\nbody_timeout = 5\n"
    )
    environment = {"PYSCEP_VALIDITY_DAYS": "40", "PYSCEP_PORT": "9001", "PYSCEP_MANUAL": "0"}
    settings = load_settings(config, environment, {"validity_days": 50, "crl_days": None})
    options, listening = settings.options, settings.listening
    assert options.state_dir == tmp_path / "state"  # relative to the file
    assert (options.challenge, options.validity_days, options.crl_days) == ("from-the-file", 50, 3)
    assert options.manual is False
    assert (listening.host, listening.port, listening.body_timeout) == ("127.0.0.1", 9001, 5.0)
    assert (listening.admin_host, listening.admin_port) == ("127.0.0.1", 9100)


def test_an_empty_variable_overrides_nothing_and_a_no_option_turns_a_switch_off(
    tmp_path: Path,
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('state_dir = "state"\nchallenge = "a-secret"\nmanual = true\nlegacy = true\n')
    kept = load_settings(config, {"PYSCEP_MANUAL": "", "PYSCEP_VALIDITY_DAYS": ""})
    assert (kept.options.manual, kept.options.validity_days) == (True, 365)
    assert load_settings(config, {}, {"manual": False}).options.manual is False
    from pyscep.cli import parser as cli_parser

    arguments = cli_parser().parse_args(["serve", "--no-manual", "--no-legacy", "--ra"])
    assert (arguments.manual, arguments.legacy, arguments.ra, arguments.next_ca) == (
        False,
        False,
        True,
        None,
    )


@pytest.mark.parametrize(
    ("environment", "complaint"),
    [
        ({"PYSCEP_BODY_TIMEOUT": "nan"}, "body_timeout (--body-timeout) must be more than 0"),
        ({"PYSCEP_BODY_TIMEOUT": "inf"}, "body_timeout (--body-timeout) must be more than 0"),
        ({"PYSCEP_ADMIN_PORT": "70000"}, "admin_port (--admin-port) 70000 is not a port"),
    ],
)
def test_a_listening_value_out_of_range_is_refused(
    tmp_path: Path, environment: dict[str, str], complaint: str
) -> None:
    given = {"state_dir": tmp_path, "challenge": "a-secret"}
    with pytest.raises(ServeConfigError, match=re.escape(complaint)):
        load_settings(None, environment, given)


def test_every_option_of_pyscep_serve_has_a_key() -> None:
    from pyscep.cli import parser as cli_parser

    serve = cli_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr,index]
    options = {
        action.dest
        for action in serve._actions
        if action.option_strings and action.dest not in ("help", "config")
    }
    keys = {"validity_days" if name == "validity" else name for name in options}
    assert keys == set(SETTINGS)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('chalenge = "x"', "unknown key 'chalenge'"),
        ('port = "80"', "port must be a whole number, not '80'"),
        ("manual = 1", "manual must be true or false, not 1"),
        ("challenge = 12", "challenge must be a string, not 12"),
        ("body_timeout = true", "body_timeout must be a number, not True"),
        ("state_dir = []", "state_dir must be a path (a string), not []"),
    ],
)
def test_a_wrong_key_or_value_in_the_file_is_named_with_the_file(
    tmp_path: Path, text: str, complaint: str
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(f'challenge_mode = "one-time"\n{text}\n')
    with pytest.raises(ServeConfigError) as refused:
        load_settings(config, {}, {"state_dir": tmp_path})
    assert str(config) in str(refused.value)
    assert complaint in str(refused.value)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("validity_days = 0", "the validity is from 1 to"),
        ('crl_url = "ftp://x/crl"', "an http:// or https:// URL"),
        ("body_timeout = 0", "body_timeout (--body-timeout) must be more than 0"),
        ("state_dir = ", "is not TOML"),
    ],
)
def test_a_value_out_of_range_stops_the_server_with_the_reason(
    tmp_path: Path, text: str, complaint: str
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(f'challenge = "a-secret"\n{text}\n')
    with pytest.raises(ServeConfigError, match=re.escape(complaint)):
        load_settings(config, {}, {"state_dir": tmp_path})


def test_without_a_state_directory_anywhere_the_server_does_not_start() -> None:
    with pytest.raises(ServeConfigError, match="PYSCEP_STATE_DIR, or state_dir"):
        load_settings(None, {"PYSCEP_CHALLENGE": "a-secret"})


def test_the_factories_read_the_file_pyscep_config_names(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('state_dir = "/srv/scep"\nchallenge_mode = "one-time"\ncrl_days = 2\n')
    options = options_from_environment({"PYSCEP_CONFIG": str(config), "PYSCEP_CRL_DAYS": "5"})
    assert (options.state_dir, options.challenge_mode, options.crl_days) == (
        Path("/srv/scep"),
        "one-time",
        5,
    )
    missing = {"PYSCEP_CONFIG": str(tmp_path / "absent.toml")}
    with pytest.raises(ServeConfigError, match=r"absent\.toml: No such file"):
        options_from_environment(missing)


# --- the admin port, in process -----------------------------------------------------------


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, as prometheus_client reads it: (name, labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _enroll(server: ReferenceServer, subject: str) -> None:
    now = current_time()
    key = pyscep.load_private_key(make_identity(subject, now=now).key_der)
    built = build_pkcs_req(
        build_csr(key, subject, challenge_password=CHALLENGE),
        signer=self_signed_signer(key, subject, now=now),
        recipient=server.files.ca.certificate,
    )
    assert server.handle("POST", "/scep", "operation=PKIOperation", built.der).status == 200


def test_the_admin_application_says_health_readiness_and_what_was_answered(
    tmp_path: Path,
) -> None:
    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge=CHALLENGE))
    admin = AdminApplication(server)
    assert admin.handle("GET", "/healthz", "", b"").body == b"ok\n"
    ready = admin.handle("GET", "/readyz", "", b"")
    assert (ready.status, ready.body) == (200, b"ready\n")
    assert server.handle("GET", "/scep", "operation=GetCACaps", b"").status == 200
    server.handle("GET", "/scep", "operation=" + "x" * 40, b"")  # counted as other
    _enroll(server, "CN=counted-1")
    _enroll(server, "CN=counted-2")
    scraped = admin.handle("GET", "/metrics", "", b"")
    assert scraped.content_type.startswith("text/plain; version=")
    samples = _metrics(scraped.body.decode())
    requests = "pyscep_requests_total"
    assert samples[(requests, (("operation", "PKIOperation"), ("outcome", "issued")))] == 2
    assert samples[(requests, (("operation", "GetCACaps"), ("outcome", "ok")))] == 1
    assert samples[(requests, (("operation", "other"), ("outcome", "refused")))] == 1
    assert samples[("pyscep_request_seconds_count", (("operation", "PKIOperation"),))] == 2
    assert samples[("pyscep_certificates_issued_total", ())] == 2
    assert samples[("pyscep_pending_requests", ())] == 0
    assert samples[("pyscep_certificates_revoked_total", ())] == 0
    assert admin.handle("GET", "/nothing", "", b"").status == 404
    assert admin.handle("POST", "/metrics", "", b"").status == 405


@pytest.mark.peer
def test_readiness_says_when_the_database_is_gone(tmp_path: Path) -> None:
    from tests.support.postgres import start_postgres

    url, stop = start_postgres()
    try:
        options = ServeOptions(tmp_path / "state", challenge=CHALLENGE, state_url=url)
        admin = AdminApplication(ReferenceServer(options))
        assert admin.handle("GET", "/readyz", "", b"").status == 200
    finally:
        stop()
    gone = admin.handle("GET", "/readyz", "", b"")
    assert gone.status == 503
    assert gone.body.startswith(b"not ready: the state store: cannot reach the PostgreSQL state")
    assert admin.handle("GET", "/healthz", "", b"").status == 200


# --- pyscep serve and gunicorn, over HTTP -------------------------------------------------


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _client_enroll(url: str, name: str, directory: Path, fingerprint: str) -> None:
    enrolled = subprocess.run(
        [sys.executable, "-m", "pyscep", "client", "enroll", url, "--subject", f"CN={name}",
         "--challenge", CHALLENGE, "--key-out", str(directory / f"{name}.key"),
         "--cert-out", str(directory / f"{name}.pem"), "--ca-fingerprint", fingerprint],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr


@pytest.mark.external
def test_pyscep_serve_from_a_config_file_with_its_admin_port_scraped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('admin_port = 0\ncrl_days = 2\nprofile = "strict"\n')
    # Named by PYSCEP_CONFIG, as a unit file's Environment= would.
    monkeypatch.setenv("PYSCEP_CONFIG", str(config))
    served = Served(tmp_path)
    try:
        found = re.search(r"admin on (http://127\.0\.0\.1:\d+)", served.ready)
        assert found is not None, served.ready
        admin = found.group(1)
        assert _get(f"{admin}/healthz") == (200, "ok\n")
        assert _get(f"{admin}/readyz") == (200, "ready\n")
        _client_enroll(served.url, "scraped", tmp_path, served.fingerprint())
        status, text = _get(f"{admin}/metrics")
        assert status == 200
        samples = _metrics(text)
        issued = ("pyscep_requests_total", (("operation", "PKIOperation"), ("outcome", "issued")))
        assert samples[issued] == 1
        assert samples[("pyscep_certificates_issued_total", ())] == 1
        assert samples[("pyscep_requests_total", (("operation", "GetCACaps"), ("outcome", "ok")))]
    finally:
        served.stop()


def _gunicorn(application: str, port: int, workers: int, environment: dict[str, str],
              log: Path) -> subprocess.Popen[bytes]:  # fmt: skip
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", application],
        env=environment, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip


def _wait(url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while _status(url) != 200:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@pytest.mark.external
@pytest.mark.peer
def test_under_gunicorn_decisions_go_to_stderr_and_the_admin_port_adds_up_the_workers(
    tmp_path: Path,
) -> None:
    """The deployment docs/server.md shows: the server's gunicorn (two workers) and the
    admin application's own gunicorn, sharing PROMETHEUS_MULTIPROC_DIR."""
    port, admin_port = free_port(), free_port()
    config = tmp_path / "serve.toml"
    config.write_text(f'state_dir = "state"\nchallenge = "{CHALLENGE}"\n')
    (tmp_path / "metrics").mkdir()
    environment = {
        # The whole environment: with the clock moved (LD_PRELOAD, FAKETIME), the server
        # must read the same clock as the client.
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYSCEP_", "PROMETHEUS_"))},
        "PYSCEP_CONFIG": str(config),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log, admin_log = tmp_path / "gunicorn.log", tmp_path / "admin.log"
    server = _gunicorn("pyscep.server:wsgi_from_environment()", port, 2, environment, log)
    admin = None
    try:
        url = f"http://127.0.0.1:{port}/scep"
        _wait(f"{url}?operation=GetCACaps", log)
        admin = _gunicorn(
            "pyscep.server:admin_wsgi_from_environment()", admin_port, 1, environment, admin_log
        )
        _wait(f"http://127.0.0.1:{admin_port}/healthz", admin_log)
        ca = pyscep.Certificate.load((tmp_path / "state" / "ca.pem").read_bytes())
        _client_enroll(url, "logged", tmp_path, ca.sha256_fingerprint.hex())
        for _ in range(6):
            assert _status(f"{url}?operation=GetCACaps") == 200
        assert _get(f"http://127.0.0.1:{admin_port}/readyz") == (200, "ready\n")
        status, text = _get(f"http://127.0.0.1:{admin_port}/metrics")
    finally:
        for process in (server, admin):
            if process is not None:
                process.terminate()
                process.wait(20)
    assert status == 200
    samples = _metrics(text)
    # The admin process answered no SCEP request: these are the workers', added up.
    issued = ("pyscep_requests_total", (("operation", "PKIOperation"), ("outcome", "issued")))
    assert samples[issued] == 1
    assert samples[("pyscep_requests_total", (("operation", "GetCACaps"), ("outcome", "ok")))] >= 7
    assert samples[("pyscep_certificates_issued_total", ())] == 1
    entries: list[dict[str, Any]] = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    (decided,) = [entry for entry in entries if "decision" in entry]
    assert decided["decision"] == "issued"
    assert decided["subject"] == "Common Name: logged"
    assert decided["type"] == "PKCSReq"
    assert decided["reason"]
    assert re.fullmatch(r"[0-9A-F]{64}", decided["transaction_id"])


def _status(url: str) -> int:
    try:
        return _get(url)[0]
    except OSError:
        return 0
