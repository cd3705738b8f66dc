"""How ``pyscep demo`` reaches its server: in this process, or ``pyscep serve`` over HTTP.

Both run the same reference server (`pyscep.server.ReferenceServer`: the
`ScepResponder` state machine, a file CA, SQLite state, the scep.conf policy)
with the same options; the story in `pyscep.demo.story` cannot tell them
apart. The operator's actions (a one-time challenge, an approval) and the
policy's decisions (the server's JSON log) go the way an administrator's would.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from pyscep._appkit.http import http_exchange
from pyscep.http import HTTPRequest
from pyscep.protocol.profiles import PROFILES
from pyscep.server import ReferenceServer, ServeOptions

__all__ = ["POST_QUANTUM_POLICY", "DemoServer", "InProcessServer", "LiveServer", "demo_options"]

#: The demo's scep.conf: one-time challenges issue at once, requests without one
#: wait for the operator, authenticated renewals are auto-approved, at most two
#: valid certificates per CN.
POLICY = """\
# pyscep demo: the policy every request is decided by
ScepRequireChallenge "NO"
ScepAutoApproveEnrollment "YES"
ScepAutoApprove "YES"
ScepRenewalRDNMatch "CN"
ScepMaxValidCertificates "2"
"""


#: The post-quantum demo's scep.conf: the same, with ML-DSA requesters allowed.
POST_QUANTUM_POLICY = (
    POLICY.replace("# pyscep demo:", "# pyscep demo --post-quantum:")
    + 'ScepAllowedKeyAlgorithms "RSA,EC,ML-DSA-44,ML-DSA-65,ML-DSA-87"\n'
)


def demo_options(state_dir: Path, *, post_quantum: bool = False) -> ServeOptions:
    """The reference server's options for the demo (policy file written into ``state_dir``);
    ``post_quantum``: an ML-DSA-65 CA with an ML-KEM-768 RA, the post-quantum profile."""
    policy = state_dir / "scep.conf"
    policy.write_text(POST_QUANTUM_POLICY if post_quantum else POLICY)
    return ServeOptions(
        state_dir=state_dir,
        challenge_mode="one-time",
        manual=True,
        next_ca=not post_quantum,
        policy=policy,
        log=state_dir / "decisions.jsonl",
        profile="post-quantum" if post_quantum else "strict",
        ca_key_type="ml-dsa-65" if post_quantum else "rsa2048",
    )


class DemoServer(Protocol):
    """What the story needs from its server."""

    #: ``in-process`` or the URL served.
    where: str

    def exchange(self, request: HTTPRequest) -> tuple[int, str | None, bytes]:
        """One HTTP exchange: (status, Content-Type, body)."""
        ...

    def new_challenge(self, subject: str) -> str:
        """The operator makes a one-time challenge for ``subject`` (an RFC 4514 pattern)."""
        ...

    def approve(self, transaction_id: str) -> None:
        """The operator approves a PENDING request."""
        ...

    def decisions(self) -> list[dict[str, Any]]:
        """The policy decisions logged since the last call."""
        ...

    def close(self) -> None:
        """Stop the server (if it runs on its own)."""
        ...


class _DecisionLog:
    """Reads the lines the server appended to its JSON log since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_decisions(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self.offset)
            lines = log.read().splitlines()
            self.offset = log.tell()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [entry for entry in entries if "policy" in entry]


class InProcessServer:
    """The reference server called directly, request by request (no socket)."""

    where = "in-process"

    def __init__(self, state_dir: Path, *, post_quantum: bool = False) -> None:
        options = demo_options(state_dir, post_quantum=post_quantum)
        self.server = ReferenceServer(options)
        self._log = _DecisionLog(state_dir / "decisions.jsonl")

    def exchange(self, request: HTTPRequest) -> tuple[int, str | None, bytes]:
        query = request.target.partition("?")[2]
        response = self.server.handle(request.method, request.path, query, request.body)
        return response.status, response.content_type, response.body

    def new_challenge(self, subject: str) -> str:
        return self.server.one_time_challenges().issue(ttl=timedelta(hours=1), subject=subject)

    def approve(self, transaction_id: str) -> None:
        self.server.approve(transaction_id, now=datetime.now(timezone.utc))

    def decisions(self) -> list[dict[str, Any]]:
        return self._log.new_decisions()

    def close(self) -> None:
        return None


class LiveServer:
    """``pyscep serve`` in its own process on 127.0.0.1, administered with its own commands."""

    def __init__(self, state_dir: Path, *, post_quantum: bool = False) -> None:
        options = demo_options(state_dir, post_quantum=post_quantum)
        self.state_dir = state_dir
        port = _free_port()
        self.where = f"http://127.0.0.1:{port}/scep"
        command = [
            *_pyscep(),
            "serve",
            "--state-dir",
            str(state_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--challenge-mode",
            options.challenge_mode,
            "--policy",
            str(options.policy),
            "--log",
            str(options.log),
            "--profile",
            options.profile,
            "--ca-key-type",
            options.ca_key_type,
            "--manual",
        ]
        if options.next_ca:
            command.append("--next-ca")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._log = _DecisionLog(state_dir / "decisions.jsonl")
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        from pyscep.protocol.client import ScepClient

        probe = ScepClient(profile=PROFILES["strict"]).get_caps()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"pyscep serve exited: {error.strip()}")
            try:
                if http_exchange(self.where, probe)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError("pyscep serve did not answer within 30 s")

    def exchange(self, request: HTTPRequest) -> tuple[int, str | None, bytes]:
        return http_exchange(self.where, request)

    def new_challenge(self, subject: str) -> str:
        command = [*_pyscep(), "serve", "challenge", "--state-dir", str(self.state_dir)]
        command += ["--subject", subject]
        output = subprocess.run(command, check=True, capture_output=True, text=True)
        return output.stdout.strip()

    def approve(self, transaction_id: str) -> None:
        command = [*_pyscep(), "serve", "approve", "--state-dir", str(self.state_dir)]
        command.append(transaction_id)
        subprocess.run(command, check=True, capture_output=True)

    def decisions(self) -> list[dict[str, Any]]:
        return self._log.new_decisions()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def _pyscep() -> list[str]:
    return [sys.executable, "-m", "pyscep"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
