"""bench/server_bench.py --quick: both servers enroll every request, and its numbers add up.

Not a timing test: it checks that the benchmark measures what it says (every reply
verified, CPU read from the servers' processes, ratios from its own numbers). Needs root,
unshare and micromdm's scepserver, as tests/test_peers.py does; a missing one fails the
test rather than skipping it (CI installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# micromdm's scepserver reads the real clock whatever libfaketime says (tests/conftest.py).
pytestmark = [pytest.mark.peer, pytest.mark.real_clock("micromdm scepserver")]


def test_quick_run_enrolls_everything_on_both_servers(tmp_path: Path) -> None:
    for program in ("unshare", "scepserver"):
        assert shutil.which(program), f"the server benchmark needs {program} on PATH"
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "server_bench.py"), "--quick", "--json", str(output)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(output.read_text())

    floor = result["floor"]
    assert floor["seconds_per_enrollment"] > 0
    assert floor["enrollments_per_cpu_second"] == pytest.approx(1 / floor["seconds_per_enrollment"])
    assert set(result["servers"]) == {"pyscep", "micromdm"}
    for name, server in result["servers"].items():
        assert result["rounds"] == server["rounds"] == 1, name
        assert server["requested"] == result["enrollments"] == 20, name
        assert server["verified"] == server["requested"], (name, server["errors"])
        assert server["errors"] == [], name
        assert server["server_cpu_seconds"] > 0, name
        assert server["wall_seconds"] > 0, name
        assert server["enrollments_per_cpu_second"] == pytest.approx(
            server["verified"] / server["server_cpu_seconds"]
        )
        assert server["fraction_of_floor"] == pytest.approx(
            server["enrollments_per_cpu_second"] / floor["enrollments_per_cpu_second"]
        )
    pyscep = result["servers"]["pyscep"]
    assert pyscep["retried"] == 0  # pyscep never answers a valid request FAILURE
    assert pyscep["server_processes"] == result["cpu_count"] + 1  # gunicorn's master too
    assert pyscep["reply_ciphers"] == ["aes128_cbc"]  # the reply mirrors the request
    assert result["servers"]["micromdm"]["reply_ciphers"] == ["des"]  # micromdm's constant
    assert result["target"]["fraction"] == pyscep["fraction_of_floor"]
    assert result["target"]["met"] == (pyscep["fraction_of_floor"] >= result["target"]["goal"])
    # gunicorn alone on the same requests: what no application under it can go below.
    alone = result["http_alone"]
    assert alone["cpu_seconds_per_enrollment"] > 0
    assert alone["best_fraction_of_floor"] == pytest.approx(
        floor["seconds_per_enrollment"]
        / (floor["seconds_per_enrollment"] + alone["cpu_seconds_per_enrollment"])
    )

    profile = result["profile"]
    assert profile["plain"]["cpu_ms"] > 0
    groups = {group["group"]: group for group in profile["groups"]}
    assert sum(group["own_share"] for group in groups.values()) == pytest.approx(1)
    # The profile sees the RSA work and the store: the grouping recognizes them.
    assert groups["crypto"]["own_ms"] > 0
    assert groups["storage"]["own_ms"] > 0
    assert len(profile["top_own"]) == 25
    assert profile["sampled"]["samples"] > 0
    assert groups["storage"]["on_stack_cpu_share"] > 0
