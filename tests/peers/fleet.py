"""Two ``pyscep serve`` hosts (gunicorn, two workers each) over one PostgreSQL, one of them
killed with SIGKILL mid-run while 8 clients enroll across both; run by netns_run.

What a fleet operator needs to hold: no enrollment lost (every client ends with its
certificate, retrying on the other host), none issued twice (one certificate per
transaction, serial numbers unique), and the store agreeing with what clients hold.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyscep import Certificate
from tests.support.helpers import pem_cert
from tests.support.postgres import start_postgres

PORTS = (18080, 18081)
HOSTS = tuple(f"http://127.0.0.1:{port}/scep" for port in PORTS)
CHALLENGE = "pyscep-fleet-secret"
CLIENTS, PER_CLIENT = 8, 50
#: The host is killed once this many certificates were issued (a quarter of the run).
KILL_AFTER = 100
#: The longest one enrollment may take: a claim its dead worker held is taken over after
#: the claim lease (two minutes), the client polling meanwhile.
ENROLLMENT_DEADLINE = 240.0


def _gunicorn(work: Path, name: str, port: int, state_url: str) -> subprocess.Popen[bytes]:
    """One host: gunicorn with two workers, its own state directory, the shared database.
    In a session of its own, so that SIGKILL takes the master and its workers at once."""
    environment = {
        **os.environ,
        "PYSCEP_STATE_DIR": str(work / name),
        "PYSCEP_STATE_URL": state_url,
        "PYSCEP_CHALLENGE": CHALLENGE,
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "pyscep.server:wsgi_from_environment()",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(work / f"{name}.log").open("wb"),
        start_new_session=True,
    )


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}?operation=GetCACaps", timeout=5):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _Run:
    """What the clients share: the count of certificates issued, and the kill switch."""

    def __init__(self, victim: subprocess.Popen[bytes]) -> None:
        self.victim = victim
        self.issued = 0
        self.killed_at: int | None = None
        self.retries = 0
        self.polls = 0
        #: What went wrong in a client, for the test to print (a crash would say less).
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def count_issued(self) -> None:
        with self.lock:
            self.issued += 1
            if self.issued == KILL_AFTER and self.killed_at is None:
                os.killpg(self.victim.pid, signal.SIGKILL)
                self.killed_at = self.issued

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)


def _client_reporting(run: _Run, number: int) -> list[bytes]:
    """`_client`, its error recorded in ``run.errors`` with what it had received so far."""
    issued: list[bytes] = []
    try:
        _client(run, number, issued)
    except Exception as exc:  # every error goes into the report
        with run.lock:
            run.errors.append(f"client {number} after {len(issued)} certificates: {exc!r}")
    return issued


def _client(run: _Run, number: int, issued: list[bytes]) -> None:
    """One device fleet's client: ``PER_CLIENT`` enrollments alternating over both hosts; a
    request whose host does not answer is sent again, unchanged, to the other host."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from pyscep._appkit.http import http_exchange
    from pyscep.crypto import load_private_key
    from pyscep.messages import build_csr
    from pyscep.protocol.client import CertificateIssued, RequestPending, ScepClient

    client = ScepClient()
    for request in (client.get_caps, client.get_ca_certificates):
        client.receive(*http_exchange(HOSTS[1], request()), now=datetime.now(timezone.utc))
    for index in range(PER_CLIENT):
        key = load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        csr = build_csr(key, f"CN=fleet{number}-{index}", challenge_password=CHALLENGE)
        outgoing = client.enroll(csr, key, now=datetime.now(timezone.utc))
        host = (number + index) % 2
        deadline = time.monotonic() + ENROLLMENT_DEADLINE
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fleet{number}-{index}: no certificate in time")
            try:
                answer = http_exchange(HOSTS[host], outgoing)
            except OSError:  # refused or cut off: the host is down; the other one gets it
                run.count("retries")
                host = 1 - host
                time.sleep(0.1)
                continue
            event = client.receive(*answer, now=datetime.now(timezone.utc))
            if isinstance(event, RequestPending):
                # Claimed by a worker that died: another takes it over after the lease.
                run.count("polls")
                time.sleep(2)
                outgoing = client.poll(now=datetime.now(timezone.utc))
                continue
            if not isinstance(event, CertificateIssued):
                raise RuntimeError(f"fleet{number}-{index}: {event}")
            issued.append(event.certificate.der)
            run.count_issued()
            break


def _stored(url: str) -> dict[str, Any]:
    """What the shared store holds: serial numbers handed out, certificates issued, and
    transactions not issued (none should be left)."""
    import psycopg

    from pyscep.server.stores import PostgresStore

    store = PostgresStore(url, create=False)
    with psycopg.connect(url) as db:
        serials = db.execute("SELECT count(*), count(DISTINCT serial) FROM serials").fetchone()
    assert serials is not None
    return {
        "serials": [int(serials[0]), int(serials[1])],
        "issued": [transaction.certificates[0] for transaction in store.issued()],
        "unfinished": len(store.pending()),
    }


def two_hosts_sigkill(work: Path) -> dict[str, Any]:
    """400 enrollments from 8 clients over two hosts sharing PostgreSQL; the first host is
    killed (SIGKILL, master and workers) after 100 certificates."""
    url, stop_postgres = start_postgres()
    hosts: list[subprocess.Popen[bytes]] = []
    try:
        hosts.append(_gunicorn(work, "a", PORTS[0], url))
        _wait_for(HOSTS[0])
        # The second host gets the same CA material, as a deployment copies it.
        shutil.copytree(work / "a", work / "b", ignore=shutil.ignore_patterns(".lock"))
        hosts.append(_gunicorn(work, "b", PORTS[1], url))
        _wait_for(HOSTS[1])
        run = _Run(hosts[0])
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            batches = list(pool.map(lambda n: _client_reporting(run, n), range(CLIENTS)))
        seconds = time.monotonic() - started
        stored = _stored(url)
    finally:
        for host in hosts:
            if host.poll() is None:
                os.killpg(host.pid, signal.SIGTERM)
                host.wait(20)
        stop_postgres()
    held = [der for batch in batches for der in batch]
    (work / "ca.pem").write_bytes((work / "a" / "ca.pem").read_bytes())
    for index, der in enumerate(held):
        (work / f"fleet-{index}.pem").write_bytes(pem_cert(Certificate.load(der)))
    return {
        "held": len(held),
        "distinct": len(set(held)),
        "serials": len({Certificate.load(der).serial_number for der in held}),
        "stored_serials": stored["serials"],
        "stored_issued": len(stored["issued"]),
        "store_matches_clients": sorted(stored["issued"]) == sorted(held),
        "unfinished": stored["unfinished"],
        "killed_at": run.killed_at,
        "killed_exit": hosts[0].returncode,
        "retries": run.retries,
        "polls": run.polls,
        "errors": run.errors,
        "seconds": round(seconds, 1),
    }
