"""micromdm's scepserver scored by ``pyscep conformance server``; run under ``unshare -n``.

Usage: python -m tests.peers.conformance_run WORKDIR

scepserver listens on every interface: in a fresh network namespace with
only loopback up, nobody else reaches it. The scorecard is written to
WORKDIR/scorecard.json (and as text to WORKDIR/scorecard.txt); the
assertions live in tests/test_conformance.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from pyscep.conformance import ServerCheckOptions, check_server
from tests.peers.netns_run import CHALLENGE, URL, _micromdm


def main() -> None:
    work = Path(sys.argv[1])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = _micromdm(work)
    try:
        # micromdm reads the real clock, and so does this run.
        scorecard = check_server(
            URL, ServerCheckOptions(challenge=CHALLENGE), now=datetime.now(timezone.utc)
        )
    finally:
        server.terminate()
        server.wait(10)
    (work / "scorecard.json").write_text(json.dumps(scorecard.to_json(), indent=2))
    (work / "scorecard.txt").write_text(scorecard.to_text() + "\n")


if __name__ == "__main__":
    main()
