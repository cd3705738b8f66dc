"""Every ```python block in README.md and docs/ runs."""

from __future__ import annotations

import re
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


def test_the_quickstart_shell_sessions_run(tmp_path: Path) -> None:
    """The server quickstart's commands, then the client's, as a newcomer would paste them."""
    import os
    import socket
    import subprocess
    import sys

    script = _shell_blocks("quickstart-server.md", "quickstart-client.md")
    assert "pyscep serve" in script
    assert "pyscep client enroll" in script
    with socket.socket() as probe:  # the pages say 8080; take a port nobody uses
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = script.replace("8080", str(port))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    session = f"set -eu\n{script}\nkill %1\n"
    result = subprocess.run(
        ["bash", "-c", session],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SCEPStandard" in result.stdout  # the GetCACaps answer
    assert "issued: Common Name: my-device" in result.stdout
    # pyscep inspect of the certificate written: issued by the server's CA, to my-device.
    assert '"subject": "Common Name: my-device, Organization: Example"' in result.stdout
    assert (tmp_path / "my-device.key").stat().st_mode & 0o077 == 0
