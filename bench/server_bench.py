"""Enrollment servers end to end: pyscep serve and micromdm's scepserver, against the RSA floor.

    python bench/server_bench.py [--enrollments 400] [--rounds 3] [--profile 200]
                                 [--only pyscep|micromdm] [--quick] [--json FILE]

Both servers run on this machine under the same load generator: per enrollment,
GetCACaps, GetCACert and one PKCSReq (a new RSA 2048 key, a CSR with the
challenge password), 2 x cores clients at once. Keys, CSRs and pkiMessages are
built before the timed phase, and the replies verified after it, so that the
client's CPU is not what is measured. pyscep serve runs under gunicorn with one
worker per core, as docs/server.md deploys it; micromdm's scepserver as
tests/peers/netns_run.py starts it. micromdm listens on every interface, so the
script re-executes itself under ``unshare -n`` (needs root) with loopback only.

Per server: wall-clock enrollments per second, and the server's CPU seconds
(utime + stime of its whole process tree, from /proc) per enrollment. The floor
is the RSA work an enrollment cannot avoid, timed on pyca/cryptography directly:
one private decryption (the content key), two public verifications (the
request's signature, the CSR's), two private signatures (the certificate, the
CertRep). Each server's enrollments per CPU second are shown as a fraction of
the floor's. Rounds alternate the servers, each round on fresh state.

Then pyscep's application runs in-process (no HTTP server): timed, under cProfile
and under a CPU-time stack sampler, grouped by what the time goes to, for whoever
optimizes it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import http.client
import io
import json
import logging
import math
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import pyscep
from pyscep import (
    LEGACY,
    CACapability,
    Certificate,
    Decrypter,
    PKIStatus,
    Signer,
    load_decrypter,
    load_private_key,
    load_signer,
)
from pyscep.messages import (
    BuiltRequest,
    CACertificates,
    CertificationRequest,
    CertsOnly,
    MessageOptions,
    build_csr,
    build_pkcs_req,
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
)
from pyscep.messages.ca import parse_ca_certificates
from pyscep.messages.caps import CACaps, negotiate
from pyscep.testing import make_identity

CHALLENGE = "pyscep-bench-secret"
HOST = "127.0.0.1"
PORTS = {"pyscep": 18080, "micromdm": 18081, "http": 18082}
SERVERS = ("pyscep", "micromdm")
TARGET = 0.6  # pyscep's enrollments per CPU second, as a fraction of the floor's
# Set in the re-executed process: it runs in a network namespace of its own.
NETNS_MARKER = "PYSCEP_SERVER_BENCH_NETNS"
CPUS = os.cpu_count() or 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on, or an enrollment failed."""


# --- the clients' material ----------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """One client as made in a worker process: its key, its self-signed signer
    certificate and its CSR (all DER)."""

    key_der: bytes
    certificate_der: bytes
    csr_der: bytes


def _load_key(der: bytes) -> Any:
    # Our own fresh keys: OpenSSL's check of each (some 50 ms) would be most of the
    # client's setup, and is skipped.
    return serialization.load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)


def _make_identity(index: int) -> Identity:
    """A new RSA 2048 key, its self-signed signer and a CSR with the challenge password."""
    name = f"pyscep-bench-{index}"
    made = make_identity(name, now=datetime.now(timezone.utc))
    csr = build_csr(
        load_private_key(_load_key(made.key_der)),
        f"CN={name},O=pyscep bench",
        challenge_password=CHALLENGE,
    )
    return Identity(made.key_der, made.certificate.der, csr.der)


@dataclass(frozen=True)
class Device:
    """A client ready to enroll: its key loaded once, as its Signer and Decrypter."""

    signer: Signer
    decrypter: Decrypter
    csr: CertificationRequest


def make_devices(count: int) -> list[Device]:
    """``count`` clients, made on every core (key generation is the slow part)."""
    with ProcessPoolExecutor(max_workers=CPUS) as pool:
        identities = list(pool.map(_make_identity, range(count), chunksize=8))
    devices = []
    for identity in identities:
        key, certificate = _load_key(identity.key_der), Certificate.load(identity.certificate_der)
        devices.append(
            Device(
                load_signer(key, certificate),
                load_decrypter(key, certificate),
                CertificationRequest.load(identity.csr_der),
            )
        )
    return devices


def build_requests(
    devices: Sequence[Device], ca: CACertificates, options: MessageOptions
) -> list[BuiltRequest]:
    """One PKCSReq per device, encrypted to this server's CA (built before timing)."""
    return [
        build_pkcs_req(device.csr, signer=device.signer, recipient=ca.encryption, options=options)
        for device in devices
    ]


RETRIES = 3  # rounds in which a request answered FAILURE is sent again


@dataclass
class Checked:
    """What the replies' verification found, by position in the replies."""

    verified: int = 0
    reply_ciphers: set[str] = field(default_factory=set)
    errors: dict[int, str] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)  # answered FAILURE, and why


def verify_replies(
    replies: Sequence[bytes | None],
    requests: Sequence[BuiltRequest],
    devices: Sequence[Device],
    ca: CACertificates,
) -> Checked:
    """Each reply: a CertRep SUCCESS from the CA that answers its request, carrying a
    certificate for the request's key (what is wrong is collected, not raised)."""
    checked = Checked()
    for position, (reply, request, device) in enumerate(
        zip(replies, requests, devices, strict=True)
    ):
        if reply is None:
            continue  # the load generator recorded why
        try:
            # LEGACY: micromdm answers with single DES whatever the request used.
            message = verify_cert_rep(
                parse_pki_message(reply),
                ca_certificates=ca.verification,
                request=request,
                algorithms=LEGACY,
            )
            if message.pki_status is PKIStatus.FAILURE:
                fail_info = None if message.fail_info is None else message.fail_info.name
                why = f"FAILURE, failInfo {fail_info}: {message.fail_info_text or ''}"
                checked.refused[position] = checked.errors[position] = why
                continue
            if message.pki_status is not PKIStatus.SUCCESS:
                raise BenchError(f"pkiStatus {message.pki_status}")
            content = decrypt_pki_message(message, device.decrypter)
            if not isinstance(content, CertsOnly):
                raise BenchError(f"the reply carries {type(content).__name__}")
            wanted = device.csr.public_key_der
            if not any(cert.public_key_der == wanted for cert in content.certificates):
                raise BenchError("no certificate for the request's key")
            if message.envelope is not None:
                checked.reply_ciphers.add(message.envelope.cipher_name)
            checked.verified += 1
        except Exception as exc:  # every failure is reported, then fails the run
            checked.errors[position] = f"{type(exc).__name__}: {exc}"
    return checked


def common_options(caps: dict[str, CACaps]) -> tuple[MessageOptions, str]:
    """The digest and cipher every server takes: what negotiate() picks when it picks the
    same for all; else SHA-256 with AES-128-CBC if all have AES, or DES3."""
    picks = {name: negotiate(c) for name, c in caps.items()}
    if not all(pick.use_post for pick in picks.values()):
        raise BenchError("a server does not advertise POSTPKIOperation")
    choices = {(pick.digest, pick.cipher) for pick in picks.values()}
    if len(choices) == 1:
        digest, cipher = choices.pop()
        how = f"{digest.value} + {cipher.value} (negotiate() picks it for {' and '.join(picks)})"
        return MessageOptions(digest=digest, cipher=cipher), how

    def everywhere(capability: CACapability) -> bool:
        # SCEPStandard implies AES and SHA-256 (RFC 8894).
        return all(
            capability in c.known or CACapability.SCEP_STANDARD in c.known for c in caps.values()
        )

    if not everywhere(CACapability.SHA_256):
        raise BenchError("the servers share no SHA-256")
    digest = pyscep.DigestAlgorithm.SHA256
    if everywhere(CACapability.AES):
        cipher = pyscep.ContentCipher.AES128_CBC
    elif all(CACapability.DES3 in c.known for c in caps.values()):
        cipher = pyscep.ContentCipher.TRIPLEDES_CBC
    else:
        raise BenchError("the servers share neither AES nor DES3")
    picked = ", ".join(f"{n}: {p.digest.value} + {p.cipher.value}" for n, p in picks.items())
    return (
        MessageOptions(digest=digest, cipher=cipher),
        f"{digest.value} + {cipher.value} (forced; negotiate() picks {picked})",
    )


# --- the servers -----------------------------------------------------------------------


class Client:
    """One HTTP/1.1 client: keeps its connection while the server does (micromdm),
    reconnects when the server closes it (gunicorn's sync workers)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def exchange(self, method: str, query: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {} if body is None else {"Content-Type": "application/x-pki-message"}
        for attempt in (1, 2):
            try:
                self.connection.request(method, f"/scep?{query}", body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, operation: str) -> bytes:
        status, body = self.exchange("GET", f"operation={operation}")
        if status != 200:
            raise BenchError(f"{operation}: HTTP {status}: {body[:200]!r}")
        return body

    def close(self) -> None:
        self.connection.close()


def _tail(path: Path, size: int = 2000) -> str:
    return path.read_bytes()[-size:].decode(errors="replace") if path.exists() else ""


@dataclass
class Server:
    """A server process started in a process group of its own."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    label: str

    def wait_ready(self, seconds: float = 60) -> Server:
        """The server, once it answers GetCACaps (stopped if it never does)."""
        deadline = time.monotonic() + seconds
        while True:
            client = Client(self.port)
            try:
                if self.process.poll() is not None:
                    raise BenchError(f"{self.name} exited:\n{_tail(self.log)}")
                client.get("GetCACaps")
                return self
            except (OSError, BenchError) as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise BenchError(f"{self.name} did not start:\n{_tail(self.log)}") from exc
                time.sleep(0.2)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)


def _gunicorn(
    name: str, label: str, application: str, log: Path, environment: dict[str, str], *extra: str
) -> Server:
    """``application`` under gunicorn, one worker per core, as docs/server.md deploys it."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        raise BenchError(f"no gunicorn next to {sys.executable}")
    port = PORTS[name]
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [str(gunicorn), "--workers", str(CPUS), "--bind", f"{HOST}:{port}", *extra,
             application],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    return Server(name, process, log, port, f"{label}gunicorn -w {CPUS}").wait_ready()


def start_pyscep(work: Path) -> Server:
    """pyscep's WSGI application under gunicorn, one worker per core, as documented."""
    environment = {
        **os.environ,
        "PYSCEP_STATE_DIR": str(work / "pyscep-state"),
        "PYSCEP_CHALLENGE": CHALLENGE,
    }
    application = "pyscep.server:wsgi_from_environment()"
    label = f"pyscep {pyscep.__version__}, "
    return _gunicorn("pyscep", label, application, work / "gunicorn.log", environment)


def start_micromdm(work: Path) -> Server:
    """micromdm's scepserver on a CA made once in WORK/depot (as tests/peers/netns_run.py)."""
    depot = work / "depot"
    log = work / "scepserver.log"
    if not depot.exists():
        subprocess.run(
            ["scepserver", "ca", "-init", "-depot", str(depot), "-keySize", "2048",
             "-organization", "pyscep bench", "-country", "DE"],
            check=True,
            capture_output=True,
        )  # fmt: skip
    port = PORTS["micromdm"]
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            ["scepserver", "-depot", str(depot), "-port", str(port), "-challenge", CHALLENGE,
             "-allowrenew", "0"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    version = subprocess.run(
        ["scepserver", "-version"], capture_output=True, check=False, text=True
    ).stdout.split()
    label = f"micromdm scepserver {' '.join(version)}"
    return Server("micromdm", process, log, port, label).wait_ready()


STARTERS: dict[str, Callable[[Path], Server]] = {
    "pyscep": start_pyscep,
    "micromdm": start_micromdm,
}


#: gunicorn alone: the bench's three requests answered with fixed bytes, no SCEP at all.
_FIXED_APPLICATION = """
from pathlib import Path

HERE = Path(__file__).parent
ANSWERS = {name: (HERE / name).read_bytes() for name in ("caps", "ca", "reply")}
KINDS = {"caps": "text/plain", "ca": "application/x-x509-ca-cert",
         "reply": "application/x-pki-message"}


def application(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    name = "caps" if "GetCACaps" in query else "ca" if "GetCACert" in query else "reply"
    if name == "reply":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
    body = ANSWERS[name]
    start_response("200 OK", [("Content-Type", KINDS[name]),
                              ("Content-Length", str(len(body)))])
    return [body]
"""


def start_http_alone(work: Path, answers: tuple[bytes, bytes, bytes]) -> Server:
    """gunicorn as pyscep runs under it (one worker per core), answering the same three
    requests with fixed bytes: what the HTTP server costs whatever the application."""
    here = work / "fixed"
    here.mkdir(parents=True, exist_ok=True)
    (here / "fixed_answers.py").write_text(_FIXED_APPLICATION)
    for name, body in zip(("caps", "ca", "reply"), answers, strict=True):
        (here / name).write_bytes(body)
    return _gunicorn(
        "http", "fixed answers, ", "fixed_answers:application", work / "fixed.log",
        dict(os.environ), "--chdir", str(here),
    )  # fmt: skip


def http_alone(
    work: Path, requests: Sequence[BuiltRequest], answers: tuple[bytes, bytes, bytes]
) -> dict[str, float]:
    """The CPU gunicorn alone spends on an enrollment's three requests (warmed up first)."""
    server = start_http_alone(work, answers)
    cpu = wall = 0.0
    sent = 0
    try:
        run_load(server, requests[: 2 * CPUS], answers[0], answers[1])
        # CPU time is counted in clock ticks per process: the requests go round until
        # enough ticks have passed to measure (a quick run's few are under one tick).
        while cpu < _MEASURABLE_CPU_SECONDS and sent < _MOST_ROUNDS_ALONE * len(requests):
            load = run_load(server, requests, answers[0], answers[1])
            if load.errors or load.vanished:
                errors = list(load.errors.values())[:3]
                raise BenchError(f"gunicorn alone: {errors} {load.vanished}")
            cpu, wall, sent = (
                cpu + load.server_cpu_seconds,
                wall + load.wall_seconds,
                sent + len(requests),
            )
    finally:
        server.stop()
    return {
        "cpu_seconds_per_enrollment": cpu / sent,
        "enrollments_per_second": sent / wall,
    }


#: How much of gunicorn's CPU time makes a measurement (twenty ticks of 10 ms), and at
#: most how many rounds of the requests are sent to reach it.
_MEASURABLE_CPU_SECONDS = 20 / CLK_TCK
_MOST_ROUNDS_ALONE = 100


@contextlib.contextmanager
def running(name: str, directory: Path) -> Iterator[Server]:
    """A server on the state in ``directory`` (made on its first start), stopped after."""
    directory.mkdir(parents=True, exist_ok=True)
    server = STARTERS[name](directory)
    try:
        yield server
    finally:
        server.stop()


# --- CPU of a process tree ------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in seconds) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: fields count from the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime and stime fields 14 and 15.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and every descendant, by pid."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)], cpu[int(entry.name)] = stat
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: cpu[pid] for pid in tree if pid in cpu}


# --- the timed load ----------------------------------------------------------------------


@dataclass
class Load:
    """A timed load's outcome."""

    replies: list[bytes | None]
    errors: dict[int, str]  # by position: what went wrong before a reply came
    wall_seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float
    processes: int
    vanished: list[int]


def run_load(
    server: Server, requests: Sequence[BuiltRequest], caps_body: bytes, ca_body: bytes
) -> Load:
    """GetCACaps, GetCACert and the PKCSReq per enrollment, from 2 x cores clients; the
    server tree's CPU read just before and just after."""
    local = threading.local()
    clients: list[Client] = []
    lock = threading.Lock()

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(server.port)
            with lock:
                clients.append(local.client)
        made: Client = local.client
        return made

    def enroll(request: BuiltRequest) -> tuple[bytes | None, str | None]:
        try:
            http = client()
            if http.get("GetCACaps") != caps_body:
                return None, "GetCACaps answered differently"
            if http.get("GetCACert") != ca_body:
                return None, "GetCACert answered differently"
            status, reply = http.exchange("POST", "operation=PKIOperation", request.der)
            if status != 200:
                return None, f"PKIOperation: HTTP {status}: {reply[:200]!r}"
            return reply, None
        except Exception as exc:  # reported with its enrollment; fails the run
            return None, f"{type(exc).__name__}: {exc}"

    before = tree_cpu(server.process.pid)
    client_before = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2 * CPUS) as pool:
        outcomes = list(pool.map(enroll, requests))
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    after = tree_cpu(server.process.pid)
    for each in clients:
        each.close()
    return Load(
        replies=[reply for reply, _ in outcomes],
        errors={position: error for position, (_, error) in enumerate(outcomes) if error},
        wall_seconds=wall,
        server_cpu_seconds=sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()),
        client_cpu_seconds=client_cpu,
        processes=len(after),
        # A process that ended meanwhile took its CPU time with it: the sum would be short.
        vanished=sorted(set(before) - set(after)),
    )


@dataclass
class Enrolled:
    """Enrollments sent (again, where the server answered FAILURE) and verified."""

    verified: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    refusals: set[str] = field(default_factory=set)  # what the FAILUREs said
    reply_ciphers: set[str] = field(default_factory=set)
    wall_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    processes: int = 0
    vanished: list[int] = field(default_factory=list)


def enroll_all(
    server: Server,
    requests: Sequence[BuiltRequest],
    devices: Sequence[Device],
    ca: CACertificates,
    bodies: tuple[bytes, bytes],
) -> Enrolled:
    """The load, its replies verified after it; a request answered FAILURE is sent again
    (up to RETRIES rounds, each timed and added up) as a client would: micromdm's file
    depot fails a request now and then under concurrency. Anything else is an error."""
    enrolled = Enrolled()
    pending = list(range(len(requests)))
    for attempt in range(1 + RETRIES):
        if attempt:
            enrolled.retried += len(pending)
        load = run_load(server, [requests[i] for i in pending], *bodies)
        enrolled.wall_seconds += load.wall_seconds
        enrolled.server_cpu_seconds += load.server_cpu_seconds
        enrolled.client_cpu_seconds += load.client_cpu_seconds
        enrolled.processes = max(enrolled.processes, load.processes)
        enrolled.vanished += load.vanished
        checked = verify_replies(
            load.replies, [requests[i] for i in pending], [devices[i] for i in pending], ca
        )
        enrolled.verified += checked.verified
        enrolled.reply_ciphers |= checked.reply_ciphers
        enrolled.refusals |= set(checked.refused.values())
        final = attempt == RETRIES
        for position, why in {**load.errors, **checked.errors}.items():
            if final or position not in checked.refused:
                enrolled.errors.append(f"enrollment {pending[position]}: {why}")
        pending = [pending[position] for position in checked.refused]
        if not pending:
            break
    return enrolled


def probe(server: Server) -> tuple[bytes, bytes]:
    """The server's GetCACaps and GetCACert bodies."""
    client = Client(server.port)
    try:
        return client.get("GetCACaps"), client.get("GetCACert")
    finally:
        client.close()


def bench_server(
    server: Server,
    devices: Sequence[Device],
    warmup: Sequence[Device],
    options: MessageOptions,
    caps_body: bytes,
) -> Enrolled:
    """Warm up, then the timed load, every reply verified."""
    caps, ca_body = probe(server)
    if caps != caps_body:
        raise BenchError(f"{server.name} changed its capabilities")
    ca = parse_ca_certificates(ca_body, now=datetime.now(timezone.utc))
    bodies = caps, ca_body
    # Each worker's first requests import and cache what later ones reuse: not timed.
    warm = enroll_all(server, build_requests(warmup, ca, options), warmup, ca, bodies)
    if warm.errors:
        raise BenchError(f"{server.name} warm-up failed: {warm.errors[:5]}")
    return enroll_all(server, build_requests(devices, ca, options), devices, ca, bodies)


def summarize(
    label: str, rounds: Sequence[Enrolled], requested: int, log: list[str]
) -> dict[str, Any]:
    """A server's numbers over its rounds: rates are totals over totals."""
    verified = sum(each.verified for each in rounds)
    cpu = sum(each.server_cpu_seconds for each in rounds)
    wall = sum(each.wall_seconds for each in rounds)
    return {
        "server": label,
        "rounds": len(rounds),
        "requested": requested * len(rounds),
        "verified": verified,
        "retried": sum(each.retried for each in rounds),
        "refusals": sorted(set().union(*(each.refusals for each in rounds))),
        "server_log_errors": sorted(set(log))[:5],
        "errors": [error for each in rounds for error in each.errors][:20],
        "reply_ciphers": sorted(set().union(*(each.reply_ciphers for each in rounds))),
        "wall_seconds": wall,
        "enrollments_per_second": verified / wall,
        "server_cpu_seconds": cpu,
        "server_processes": max(each.processes for each in rounds),
        "vanished_processes": [pid for each in rounds for pid in each.vanished],
        "cpu_seconds_per_enrollment": cpu / max(verified, 1),
        "enrollments_per_cpu_second": verified / cpu if cpu else math.nan,
        "cpu_ms_per_enrollment_by_round": [
            each.server_cpu_seconds * 1e3 / max(each.verified, 1) for each in rounds
        ],
        "client_cpu_seconds_per_enrollment": sum(each.client_cpu_seconds for each in rounds)
        / (requested * len(rounds)),
    }


def _log_errors(log: Path, most: int = 5) -> list[str]:
    """The server's distinct error lines (timestamps cut), so a FAILURE says why."""
    found: list[str] = []
    for line in _tail(log, 1 << 20).splitlines():
        if re.search(r'\berr="|Traceback|\bERROR\b|\bWARNING\b', line):
            line = re.sub(r"\bts=\S+ |^\[[^]]*\] ", "", line).replace(str(log.parent), "DIR")
            if line not in found and len(found) < most:
                found.append(line)
    return found


# --- the floor ---------------------------------------------------------------------------


FLOOR_OPERATIONS = (
    "decrypt_content_key",
    "verify_request",
    "verify_csr",
    "sign_certificate",
    "sign_cert_rep",
)


def measure_floor(repetitions: int, rounds: int) -> dict[str, float]:
    """CPU seconds of each RSA 2048 operation an enrollment needs, on pyca/cryptography
    directly (median of ``rounds`` rounds), and the enrollment floor they add up to."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client_public = client_key.public_key()
    pkcs1 = padding.PKCS1v15()
    sha256 = hashes.SHA256()
    # Sizes as in a PKCSReq and its CertRep: signed attributes, a CSR's content, a TBS
    # certificate (hashing them is noise next to the RSA operation).
    attributes, csr_info, tbs = os.urandom(250), os.urandom(600), os.urandom(900)
    encrypted_key = ca_key.public_key().encrypt(os.urandom(16), pkcs1)
    request_signature = client_key.sign(attributes, pkcs1, sha256)
    csr_signature = client_key.sign(csr_info, pkcs1, sha256)

    def per_operation(operation: Callable[[], object]) -> float:
        times = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(repetitions):
                operation()
            times.append((time.process_time() - start) / repetitions)
        return statistics.median(times)

    operations: dict[str, Callable[[], object]] = {
        "decrypt_content_key": lambda: ca_key.decrypt(encrypted_key, pkcs1),
        "verify_request": lambda: client_public.verify(
            request_signature, attributes, pkcs1, sha256
        ),
        "verify_csr": lambda: client_public.verify(csr_signature, csr_info, pkcs1, sha256),
        "sign_certificate": lambda: ca_key.sign(tbs, pkcs1, sha256),
        "sign_cert_rep": lambda: ca_key.sign(attributes, pkcs1, sha256),
    }
    floor = {f"{name}_seconds": per_operation(operations[name]) for name in FLOOR_OPERATIONS}
    seconds = sum(floor.values())
    floor["seconds_per_enrollment"] = seconds
    floor["enrollments_per_cpu_second"] = 1 / seconds
    return floor


# --- the profile ----------------------------------------------------------------------------


@contextlib.contextmanager
def decisions_into(path: Path) -> Iterator[None]:
    """The decision lines into a file, formatted as the factory formats them on stderr
    (which it leaves alone when the logger has a handler already)."""
    from pyscep.server.app import decisions

    with path.open("a") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(message)s"))
        saved = decisions.handlers[:], decisions.level, decisions.propagate
        decisions.handlers[:] = [handler]
        decisions.setLevel(logging.INFO)
        decisions.propagate = False
        try:
            yield
        finally:
            decisions.handlers[:], decisions.propagate = saved[0], saved[2]
            decisions.setLevel(saved[1])


class InProcess:
    """pyscep's WSGI application built by its factory (``wsgi_from_environment``) on a fresh
    state directory, called directly: what gunicorn's worker does, without the socket."""

    def __init__(self, state: Path) -> None:
        from pyscep.server import wsgi_from_environment

        saved = {name: os.environ.get(name) for name in ("PYSCEP_STATE_DIR", "PYSCEP_CHALLENGE")}
        os.environ.update(PYSCEP_STATE_DIR=str(state), PYSCEP_CHALLENGE=CHALLENGE)
        try:
            self.application = wsgi_from_environment()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def call(self, method: str, query: str, body: bytes = b"") -> bytes:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": "/scep",
            "QUERY_STRING": query,
            "CONTENT_TYPE": "application/x-pki-message",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        statuses: list[str] = []
        answer = b"".join(self.application(environ, lambda status, _: statuses.append(status)))
        if not statuses[0].startswith("200"):
            raise BenchError(f"in-process {query}: {statuses[0]}: {answer[:200]!r}")
        return answer

    def enroll_all(self, requests: Sequence[BuiltRequest]) -> list[bytes | None]:
        replies: list[bytes | None] = []
        for request in requests:
            self.call("GET", "operation=GetCACaps")
            self.call("GET", "operation=GetCACert")
            replies.append(self.call("POST", "operation=PKIOperation", request.der))
        return replies


Key = tuple[str, int, str]
# pstats: (primitive calls, calls, own time, cumulative time, {caller: (same, per edge)})
Entry = tuple[int, int, float, float, dict[Key, tuple[int, int, float, float]]]

GROUPS = {
    "crypto": "RSA/crypto primitives (cryptography's Rust/OpenSSL, hashlib)",
    "crypto_glue": "crypto glue (cryptography's Python, pyscep.crypto)",
    "storage": "storage (sqlite3, pyscep.server.stores)",
    "certificate": "certificate building (pyscep.messages.identity, _extensions)",
    "cms": "CMS/SCEP messages (pyscep.cms, .messages, ._der*, parsing)",
    "asn1crypto": "asn1crypto (DER objects for certificates and CMS)",
    "protocol": "responder (pyscep.protocol)",
    "server": "server application (pyscep.server, pyscep.policy)",
    "logging": "logging/json (the decision lines)",
    "metrics": "metrics (prometheus_client)",
    "http": "HTTP/WSGI glue (pyscep.wsgi, .http, parse_qs, bench call)",
    "stdlib": "other stdlib (not charged to a caller)",
    "other": "other",
}


@functools.cache
def _rust_names() -> tuple[frozenset[str], frozenset[str]]:
    """Short names of cryptography's Rust modules and classes, as cProfile shows builtins."""
    from cryptography.hazmat.bindings import _rust

    modules: set[str] = set()
    classes: set[str] = set()
    stack: list[types.ModuleType] = [_rust]
    seen: set[str] = set()
    while stack:
        module = stack.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        modules.add(module.__name__.rsplit(".", 1)[-1])
        for value in vars(module).values():
            if isinstance(value, types.ModuleType):
                stack.append(value)
            elif isinstance(value, type):
                classes.add(f"{value.__module__}.{value.__qualname__}")
    return frozenset(modules), frozenset(classes)


_PATH_GROUPS = (
    ("/pyscep/server/stores/", "storage"),
    ("/sqlite3/", "storage"),
    ("/psycopg", "storage"),
    ("/pyscep/messages/identity.py", "certificate"),
    ("/pyscep/_extensions.py", "certificate"),
    ("/pyscep/crypto/", "crypto_glue"),
    ("/cryptography/", "crypto_glue"),
    ("/asn1crypto/", "asn1crypto"),
    ("/pyscep/protocol/", "protocol"),
    ("/pyscep/server/metrics.py", "metrics"),
    ("/prometheus_client/", "metrics"),
    ("/pyscep/server/", "server"),
    ("/pyscep/policy/", "server"),
    ("/pyscep/wsgi.py", "http"),
    ("/pyscep/http/", "http"),
    ("/urllib/", "http"),
    ("/logging/", "logging"),
    ("/json/", "logging"),
    ("/pyscep/", "cms"),  # the message layer and everything it reads and writes with
)


def group_of(key: Key) -> str | None:
    """The group a function (cProfile's key) belongs to; None for builtins and stdlib
    code that belongs to no group (isinstance, len, dataclasses, enum, datetime...)."""
    filename, _, name = key
    if filename == "~":
        owner = name.split(" of '", 1)[1].split("'", 1)[0] if " of '" in name else ""
        module = name[len("<built-in method ") :].split(".", 1)[0] if "method " in name else ""
        rust_modules, rust_classes = _rust_names()
        if "sqlite3" in name:
            return "storage"
        if (
            owner.startswith("cryptography.")
            or owner in rust_classes
            or module in rust_modules
            or "_hashlib" in name
            or "_hmac" in name
        ):
            return "crypto"
        return "logging" if "_json" in name else None
    if os.path.abspath(filename) == os.path.abspath(__file__):
        return "http"  # the bench's WSGI call stands in for gunicorn's
    for fragment, group in _PATH_GROUPS:
        if fragment in filename:
            return group
    if filename.startswith((os.path.dirname(os.__file__) + "/", "<")):
        return None
    return "other"


class Grouping:
    """Own time per group. A function of no group (`group_of`) is charged to its
    callers' groups, in proportion to the time each caller spent in it."""

    def __init__(self, stats: dict[Key, Entry]) -> None:
        self.stats = stats
        self._mix: dict[Key, dict[str, float]] = {}

    def mix(self, key: Key, visiting: frozenset[Key] = frozenset()) -> dict[str, float]:
        """The groups a function's own time is charged to, as fractions."""
        if key in self._mix:
            return self._mix[key]
        own = group_of(key)
        if own is not None:
            return {own: 1.0}
        callers = {k: edge for k, edge in self.stats[key][4].items() if k not in visiting}
        total = sum(edge[2] for edge in callers.values())
        if total <= 0:
            return {"stdlib": 1.0}
        result: dict[str, float] = {}
        for caller, edge in callers.items():
            for group, share in self.mix(caller, visiting | {key}).items():
                result[group] = result.get(group, 0.0) + share * edge[2] / total
        if not visiting:
            self._mix[key] = result
        return result

    def own_times(self) -> dict[str, float]:
        """Own time per group (adds up to the profile's total)."""
        totals = dict.fromkeys(GROUPS, 0.0)
        for key, entry in self.stats.items():
            for group, share in self.mix(key).items():
                totals[group] += share * entry[2]
        return totals


class StackSampler:
    """Which groups are on the stack, sampled every ``interval`` of this process's CPU
    time (ITIMER_PROF): a group's inclusive share, counted once however often it calls
    itself through others (which cProfile's caller edges cannot tell). A C function is
    no frame: its time shows in the groups of its Python callers."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples = 0
        self.counts = dict.fromkeys(GROUPS, 0)
        self._groups: dict[types.CodeType, str | None] = {}

    def _sample(self, signum: int, frame: types.FrameType | None) -> None:
        seen: set[str] = set()
        while frame is not None:
            code = frame.f_code
            if code not in self._groups:
                key = (code.co_filename, code.co_firstlineno, code.co_name)
                # The bench's own frames are on every stack: they count for nothing.
                mine = os.path.abspath(code.co_filename) == os.path.abspath(__file__)
                self._groups[code] = None if mine else group_of(key)
            group = self._groups[code]
            if group is not None:
                seen.add(group)
            frame = frame.f_back
        self.samples += 1
        for group in seen:
            self.counts[group] += 1

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGPROF, self._sample)
        signal.siginterrupt(signal.SIGPROF, False)  # SQLite's system calls restart
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)


def _short(key: Key) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    stdlib = os.path.dirname(os.__file__) + "/"
    if filename.startswith(stdlib):
        return f"{filename[len(stdlib) :]}:{line}({name})"
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def _in_process(
    state: Path,
    devices: Sequence[Device],
    warmup: Sequence[Device],
    options: MessageOptions,
    profiler: cProfile.Profile | None = None,
    sampler: StackSampler | None = None,
) -> tuple[float, float]:
    """CPU and wall seconds per enrollment of pyscep's application in this process, on a
    fresh state directory (warmed up first; every reply verified)."""
    runner = InProcess(state)
    ca = parse_ca_certificates(
        runner.call("GET", "operation=GetCACert"), now=datetime.now(timezone.utc)
    )
    warm_requests = build_requests(warmup, ca, options)
    warm_replies = runner.enroll_all(warm_requests)
    requests = build_requests(devices, ca, options)
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.ExitStack() as stack:
        if sampler is not None:
            stack.enter_context(sampler.sampling())
        if profiler is not None:
            profiler.enable()
            stack.callback(profiler.disable)
        replies = runner.enroll_all(requests)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for checked in (
        verify_replies(warm_replies, warm_requests, warmup, ca),
        verify_replies(replies, requests, devices, ca),
    ):
        if checked.errors:
            raise BenchError(f"in-process enrollments failed: {list(checked.errors.values())[:5]}")
    return cpu / len(devices), wall / len(devices)


def _tmpfs() -> Path | None:
    """A tmpfs this process may write to: /dev/shm, where it is one."""
    shm = Path("/dev/shm")  # noqa: S108 - a private directory is made inside
    ok = shm.is_dir() and os.access(shm, os.W_OK) and _filesystem(shm) == "tmpfs"
    return shm if ok else None


def profile_in_process(
    work: Path,
    devices: Sequence[Device],
    warmup: Sequence[Device],
    options: MessageOptions,
) -> dict[str, Any]:
    """The per-enrollment requests against pyscep's application in this process: timed
    without a profiler (state on the servers' filesystem, then on tmpfs, where fsync
    costs nothing), then under cProfile (its default, wall-clock timer: the cheapest, so
    the least distorting); each run on a fresh state directory."""
    count = len(devices)
    result: dict[str, Any] = {"enrollments": count}
    profiler = cProfile.Profile()
    with decisions_into(work / "in-process-decisions.log"):
        cpu, wall = _in_process(work / "in-process-plain", devices, warmup, options)
        result["plain"] = {"cpu_ms": cpu * 1e3, "wall_ms": wall * 1e3}
        shm = _tmpfs()
        if shm is not None and _filesystem(work) != "tmpfs":
            state = Path(tempfile.mkdtemp(prefix="pyscep-server-bench-", dir=shm))
            try:
                cpu, wall = _in_process(state, devices, warmup, options)
            finally:
                shutil.rmtree(state, ignore_errors=True)
            result["plain_tmpfs"] = {"cpu_ms": cpu * 1e3, "wall_ms": wall * 1e3}
        cpu, wall = _in_process(work / "in-process-profiled", devices, warmup, options, profiler)
        result["profiled"] = {"cpu_ms": cpu * 1e3, "wall_ms": wall * 1e3}
        # ITIMER_PROF ticks with the kernel's clock (often every 4 ms): two runs, twice
        # the stacks.
        sampler = StackSampler()
        for run in (1, 2):
            cpu, wall = _in_process(
                work / f"in-process-sampled-{run}", devices, warmup, options, sampler=sampler
            )
        result["sampled"] = {"cpu_ms": cpu * 1e3, "wall_ms": wall * 1e3, "samples": sampler.samples}
    stats: dict[Key, Entry] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    grouping = Grouping(stats)
    own = grouping.own_times()
    samples = max(sampler.samples, 1)
    per = 1000 / count
    result["groups"] = [
        {
            "group": name,
            "label": label,
            "own_ms": own[name] * per,
            "own_share": own[name] / total,
            "on_stack_cpu_share": sampler.counts[name] / samples,
        }
        for name, label in GROUPS.items()
    ]
    top = []
    for key, entry in sorted(stats.items(), key=lambda item: -item[1][2])[:25]:
        callers = sorted(entry[4].items(), key=lambda item: -item[1][2])
        group, share = max(grouping.mix(key).items(), key=lambda item: item[1])
        top.append(
            {
                "function": _short(key),
                "own_ms": entry[2] * per,
                "own_share": entry[2] / total,
                "inclusive_ms": entry[3] * per,
                "calls": entry[1] / count,
                "group": group if share > 0.995 else f"{group} {share:.0%}",
                "main_caller": _short(callers[0][0]) if callers else "",
            }
        )
    result["top_own"] = top
    stages = sorted(
        ((key, entry) for key, entry in stats.items() if "/pyscep/" in key[0]),
        key=lambda item: -item[1][3],
    )
    result["top_pyscep_inclusive"] = [
        {
            "function": _short(key),
            "inclusive_ms": entry[3] * per,
            "own_ms": entry[2] * per,
            "calls": entry[1] / count,
        }
        for key, entry in stages[:20]
    ]
    return result


# --- output --------------------------------------------------------------------------------


def _filesystem(path: Path) -> str:
    """The filesystem type a path is on (SQLite's fsyncs cost nothing on tmpfs)."""
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    under = [(len(m[1]), m[2]) for m in mounts if path.resolve().is_relative_to(m[1])]
    return max(under)[1] if under else "?"


SERVER_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("server", lambda s: str(s["server"])),
    ("enrollments verified / requested", lambda s: f"{s['verified']}/{s['requested']}"),
    ("requests sent again (FAILURE)", lambda s: str(s["retried"])),
    ("wall seconds (timed phases)", lambda s: f"{s['wall_seconds']:.2f}"),
    ("enrollments per second (wall)", lambda s: f"{s['enrollments_per_second']:.1f}"),
    ("server CPU seconds", lambda s: f"{s['server_cpu_seconds']:.2f}"),
    ("server processes measured", lambda s: str(s["server_processes"])),
    ("server CPU ms per enrollment", lambda s: f"{s['cpu_seconds_per_enrollment'] * 1e3:.2f}"),
    (
        "  by round",
        lambda s: " ".join(f"{ms:.2f}" for ms in s["cpu_ms_per_enrollment_by_round"]),
    ),
    ("enrollments per server CPU second", lambda s: f"{s['enrollments_per_cpu_second']:.1f}"),
    ("fraction of the floor", lambda s: f"{s['fraction_of_floor']:.2f}"),
    (
        "load generator CPU ms per enrollment",
        lambda s: f"{s['client_cpu_seconds_per_enrollment'] * 1e3:.2f}",
    ),
    ("reply cipher", lambda s: ",".join(s["reply_ciphers"])),
)


def print_servers(result: dict[str, Any]) -> None:
    servers: dict[str, dict[str, Any]] = result["servers"]
    print(f"{'':<38}" + "".join(f"{name:>30}" for name in servers))
    for label, cell in SERVER_ROWS:
        print(f"{label:<38}" + "".join(f"{cell(server):>30}" for server in servers.values()))
    for name, server in servers.items():
        if server["retried"]:
            said = "; ".join(server["refusals"])
            logged = " | ".join(server["server_log_errors"])
            print(f"{name} answered FAILURE to {server['retried']} requests, sent again: {said}")
            print(f"  its log: {logged}")
    floor = result["floor"]
    ms = {name: floor[f"{name}_seconds"] * 1e3 for name in FLOOR_OPERATIONS}
    print(
        "\nfloor (pyca/cryptography, RSA 2048, CPU ms): "
        + " + ".join(f"{name} {ms[name]:.3f}" for name in FLOOR_OPERATIONS)
        + f"\n  = {floor['seconds_per_enrollment'] * 1e3:.3f} ms per enrollment"
        f" = {floor['enrollments_per_cpu_second']:.1f} enrollments per CPU second"
    )
    for name, server in servers.items():
        print(
            f"{name}: {server['enrollments_per_cpu_second']:.1f} enrollments per CPU second"
            f" = {server['fraction_of_floor']:.2f} of the floor"
        )
    alone = result.get("http_alone")
    if alone is not None:
        cost = alone["cpu_seconds_per_enrollment"] * 1e3
        print(
            f"gunicorn -w {CPUS} alone, the same three requests answered with fixed bytes:"
            f" {cost:.2f} ms CPU per enrollment;\n  floor + that ="
            f" {floor['seconds_per_enrollment'] * 1e3 + cost:.2f} ms: at best"
            f" {alone['best_fraction_of_floor']:.2f} of the floor for anything served this way"
        )
    target = result.get("target")
    if target is not None:
        verdict = "met" if target["met"] else "NOT met"
        fraction = target["fraction"]
        print(f"target: pyscep at {TARGET} of the floor or better: {fraction:.2f}, {verdict}")


def print_profile(profile: dict[str, Any], floor: dict[str, float]) -> None:
    plain, profiled = profile["plain"], profile["profiled"]
    print(
        f"\npyscep's application in-process, no HTTP server ({profile['enrollments']}"
        f" enrollments, fresh state each run; the floor is"
        f" {floor['seconds_per_enrollment'] * 1e3:.2f} ms CPU)"
    )
    print(f"  per enrollment: {plain['cpu_ms']:.2f} ms CPU, {plain['wall_ms']:.2f} ms wall")
    tmpfs = profile.get("plain_tmpfs")
    if tmpfs is not None:
        print(
            f"  state on tmpfs (fsync free): {tmpfs['cpu_ms']:.2f} ms CPU,"
            f" {tmpfs['wall_ms']:.2f} ms wall"
        )
    print(
        f"  under cProfile: {profiled['cpu_ms']:.2f} ms CPU, {profiled['wall_ms']:.2f} ms wall"
        " (its times are wall clock, its overhead included)"
    )
    sampled = profile["sampled"]
    print(
        f"  sampled on CPU time: {sampled['cpu_ms']:.2f} ms CPU, {sampled['wall_ms']:.2f} ms wall,"
        f" {sampled['samples']} stacks in two runs"
    )
    print(
        "\nPer group: own time (cProfile, wall clock, ms per enrollment; builtins and generic"
        " stdlib charged\nto their callers), and the share of CPU samples with the group on"
        " the stack (inclusive, each\ngroup counted once per stack; C functions show in their"
        " Python callers' groups)"
    )
    print(f"{'group':<64}{'own ms':>9}{'own':>7}{'on stack, CPU':>16}")
    for group in profile["groups"]:
        # The primitives are C functions, never on the sampled (Python) stack.
        on_stack = "-" if group["group"] == "crypto" else f"{group['on_stack_cpu_share']:.1%}"
        print(
            f"{group['label']:<64}{group['own_ms']:>9.3f}{group['own_share']:>7.1%}{on_stack:>16}"
        )
    print("\nTop 25 functions by own time (ms per enrollment; group: where its time is charged)")
    print(f"{'own ms':>8}{'%':>6}{'incl ms':>9}{'calls':>8}  {'group':<15}function  <- main caller")
    for item in profile["top_own"]:
        print(
            f"{item['own_ms']:>8.3f}{item['own_share'] * 100:>6.1f}{item['inclusive_ms']:>9.3f}"
            f"{item['calls']:>8.1f}  {item['group']:<15}{item['function']}"
            f"  <- {item['main_caller']}"
        )
    print("\npyscep's functions by inclusive time (ms per enrollment): the stages")
    print(f"{'incl ms':>9}{'own ms':>8}{'calls':>7}  function")
    for item in profile["top_pyscep_inclusive"]:
        print(
            f"{item['inclusive_ms']:>9.3f}{item['own_ms']:>8.3f}{item['calls']:>7.1f}"
            f"  {item['function']}"
        )


# --- main ----------------------------------------------------------------------------------


def _into_namespace() -> None:
    """Re-execute under ``unshare -n``: a network namespace with loopback only, where
    micromdm's listening on every interface reaches nobody."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise BenchError("needs unshare (util-linux) to run in a private network namespace")
    environment = {**os.environ, NETNS_MARKER: "1"}
    command = [unshare, "-n", "--", sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
    sys.stdout.flush()
    os.execve(unshare, command, environment)  # noqa: S606 - a fixed argument list


def _terminate(signum: int, frame: types.FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds: servers stopped, temporary files removed


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], list[str]]:
    names = [args.only] if args.only else list(SERVERS)
    if "micromdm" in names and shutil.which("scepserver") is None:
        raise BenchError("needs micromdm's scepserver on PATH (Debian package scep)")
    warm_count = 2 * CPUS
    rounds = 1 if args.quick else args.rounds
    profile_count = 0 if "pyscep" not in names else (10 if args.quick else args.profile)
    total = max(args.enrollments, profile_count) + warm_count
    print(
        f"pyscep {pyscep.__version__}, Python {sys.version.split()[0]}, {CPUS} cores,"
        f" {rounds} x {args.enrollments} enrollments per server from {2 * CPUS} clients;"
        f" state in {work} ({_filesystem(work)})"
    )
    started = time.perf_counter()
    devices = make_devices(total)
    print(f"{total} client keys, signers and CSRs made in {time.perf_counter() - started:.1f} s")
    floor = measure_floor(*((20, 3) if args.quick else (200, 5)))
    # Each server's capabilities first: the algorithms every one takes.
    caps: dict[str, bytes] = {}
    for name in names:
        with running(name, work / f"{name}-1") as server:
            caps[name] = probe(server)[0]
    options, chosen = common_options({name: CACaps.parse(body) for name, body in caps.items()})
    print(f"algorithms: {chosen}")
    warmup = devices[-warm_count:]
    measured: dict[str, list[Enrolled]] = {name: [] for name in names}
    labels: dict[str, str] = {}
    logs: dict[str, list[str]] = {name: [] for name in names}
    for round_ in range(1, rounds + 1):
        # Alternating the order spreads whatever else the machine does over both servers;
        # each round on a fresh state (a new CA), so the same clients enroll anew.
        for name in names if round_ % 2 else names[::-1]:
            with running(name, work / f"{name}-{round_}") as server:
                print(f"round {round_} of {rounds}: {server.label}", flush=True)
                enrolled = bench_server(
                    server, devices[: args.enrollments], warmup, options, caps[name]
                )
            measured[name].append(enrolled)
            labels[name] = server.label
            logs[name] += _log_errors(server.log)
    servers = {
        name: summarize(labels[name], measured[name], args.enrollments, logs[name])
        for name in names
    }
    for numbers in servers.values():
        numbers["fraction_of_floor"] = (
            numbers["enrollments_per_cpu_second"] / floor["enrollments_per_cpu_second"]
        )
    result: dict[str, Any] = {
        "pyscep_version": pyscep.__version__,
        "python": sys.version.split()[0],
        "cpu_count": CPUS,
        "clients": 2 * CPUS,
        "enrollments": args.enrollments,
        "rounds": rounds,
        "algorithms": chosen,
        "state_filesystem": _filesystem(work),
        "floor": floor,
        "servers": servers,
    }
    if "pyscep" in servers:
        fraction = servers["pyscep"]["fraction_of_floor"]
        result["target"] = {"fraction": fraction, "goal": TARGET, "met": fraction >= TARGET}
        # What gunicorn alone costs the same requests: the floor plus that is the best any
        # application served this way can do.
        with running("pyscep", work / "pyscep-answers") as server:
            caps_body, ca_body = probe(server)
            ca = parse_ca_certificates(ca_body, now=datetime.now(timezone.utc))
            built = build_requests(devices[: args.enrollments], ca, options)
            client = Client(server.port)
            try:
                status, reply = client.exchange("POST", "operation=PKIOperation", built[0].der)
            finally:
                client.close()
        if status != 200:
            raise BenchError(f"pyscep answered the reference request with HTTP {status}")
        alone = http_alone(work, built, (caps_body, ca_body, reply))
        best = floor["seconds_per_enrollment"] + alone["cpu_seconds_per_enrollment"]
        alone["best_fraction_of_floor"] = floor["seconds_per_enrollment"] / best
        result["http_alone"] = alone
    print()
    print_servers(result)
    if profile_count:
        result["profile"] = profile_in_process(work, devices[:profile_count], warmup, options)
        print_profile(result["profile"], floor)
    failures = []
    for name, numbers in servers.items():
        if numbers["verified"] != numbers["requested"] or numbers["errors"]:
            failures.append(
                f"{name}: {numbers['verified']} of {numbers['requested']} enrollments verified;"
                f" first errors: {numbers['errors'][:5]}; its log: {numbers['server_log_errors']}"
            )
        if numbers["vanished_processes"]:
            failures.append(f"{name}: processes ended during the timed phase (CPU time lost)")
    return result, failures


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return number


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--enrollments", type=_positive, default=400, help="per server, round")
    parser.add_argument("--rounds", type=_positive, default=3, help="per server, interleaved")
    parser.add_argument("--profile", type=_positive, default=200, help="enrollments profiled")
    parser.add_argument("--quick", action="store_true", help="20 enrollments, a tiny profile")
    parser.add_argument("--only", choices=SERVERS)
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    args = parser.parse_args()
    if args.quick:
        args.enrollments = 20
    try:
        if os.environ.get(NETNS_MARKER) != "1":
            _into_namespace()
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        signal.signal(signal.SIGTERM, _terminate)
        with tempfile.TemporaryDirectory(prefix="pyscep-server-bench-") as directory:
            result, failures = run(args, Path(directory))
    except (BenchError, OSError, subprocess.CalledProcessError) as exc:
        print(f"server_bench: {exc}", file=sys.stderr)
        return 2
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if failures:
        for failure in failures:
            print(f"FAILED {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
