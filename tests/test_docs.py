"""Every ```python block in README.md and docs/ runs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(code, id=f"{page.name}#{index}")
    for page in PAGES
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS)
def test_example_runs(code: str) -> None:
    exec(compile(code, "<docs>", "exec"), {"__name__": "docs_example"})  # noqa: S102


def _shell_blocks(*names: str) -> str:
    pages = [(ROOT / "docs" / name).read_text() for name in names]
    return "\n".join(
        block for page in pages for block in re.findall(r"```sh\n(.*?)```", page, re.S)
    )


def _run_session(script: str, directory: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    """A page's shell session, as a newcomer would paste it, in ``directory``: on a free
    port instead of the pages' 8080, with this Python's ``pyscep`` first on the PATH."""
    with socket.socket() as probe:  # the pages say 8080; take a port nobody uses
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = script.replace("8080", str(port))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", f"set -eu\n{script}\nkill %1\n"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_quickstart_shell_sessions_run(tmp_path: Path) -> None:
    """The server quickstart's commands, then the client's, as a newcomer would paste them."""
    script = _shell_blocks("quickstart-server.md", "quickstart-client.md")
    assert "pyscep serve" in script
    assert "pyscep client enroll" in script
    result = _run_session(script, tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SCEPStandard" in result.stdout  # the GetCACaps answer
    assert "issued: Common Name: my-device" in result.stdout
    # pyscep inspect of the certificate written: issued by the server's CA, to my-device.
    assert '"subject": "Common Name: my-device, Organization: Example"' in result.stdout
    assert (tmp_path / "my-device.key").stat().st_mode & 0o077 == 0


@pytest.mark.external
def test_the_bring_your_own_ca_session_runs(tmp_path: Path) -> None:
    """docs/server.md's own CA, step by step: openssl's CA served, its old certificate
    imported and renewed, a new device pinning the root; openssl verifies both."""
    script = _shell_blocks("server.md")
    assert "pyscep serve import" in script
    result = _run_session(script, tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "imported: Common Name: laptop-7" in result.stdout
    assert result.stdout.count(": OK\n") == 2  # openssl verify, renewed and new
    assert (tmp_path / "laptop-2.pem").exists()
    assert (tmp_path / "laptop-8.pem").exists()
    # The CA's key stays where it was: the state directory holds none.
    assert [p.name for p in (tmp_path / "state").iterdir() if p.suffix == ".key"] == []


def test_the_server_guides_toml_files_are_what_the_server_reads(tmp_path: Path) -> None:
    """docs/server.md's configuration and profiles files load as they are written."""
    from pyscep.server import load_settings
    from pyscep.server.profiles import load_issuance_profiles

    page = (ROOT / "docs" / "server.md").read_text()
    blocks = {
        block.splitlines()[0]: block for block in re.findall(r"```toml\n(.*?)```", page, re.S)
    }
    assert set(blocks) == {"# /etc/pyscep/serve.toml", "# /etc/pyscep/profiles.toml"}
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(blocks["# /etc/pyscep/profiles.toml"])
    loaded = load_issuance_profiles(profiles).profiles
    assert sorted(loaded) == ["default", "vpn"]
    assert loaded["vpn"].extended_key_usage == (
        "client_auth",
        "ipsec_ike",
        "1.3.6.1.4.1.311.20.2.2",
    )
    serve = tmp_path / "serve.toml"
    serve.write_text(blocks["# /etc/pyscep/serve.toml"])
    settings = load_settings(serve, {})
    assert settings.options.state_url == "postgresql://scep@db.example/scep"
    assert settings.listening.admin_port == 9100
