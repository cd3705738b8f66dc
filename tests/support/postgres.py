"""A throw-away PostgreSQL server (Debian's), for the tests of state shared by hosts."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A throw-away PostgreSQL server (Debian's), on a Unix socket only; its URL and a stop."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    # Outside WORK: the postgres user must reach it (pytest's tmp is 0700).
    base = Path(tempfile.mkdtemp(prefix="pyscep-pg-"))
    base.chmod(0o755)
    data, socket_dir = base / "data", base / "socket"
    socket_dir.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(socket_dir, "postgres")

    def as_postgres(*command: str) -> None:
        # No pipes: the server started by pg_ctl would hold them open.
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    as_postgres(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "scep")
    options = f"-k {socket_dir} -c listen_addresses='' -p 5433"
    log = str(base / "postgres.log")
    as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")

    def stop() -> None:
        as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql://scep@/postgres?host={socket_dir}&port=5433", stop
