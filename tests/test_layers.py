"""The layering, read from the import graph: every import, wherever it is written.

Relative imports are resolved to absolute names, and imports under ``if
TYPE_CHECKING:`` or inside functions count like the rest: a layer that only
names another in an annotation still depends on it. The layers, bottom up
(docs/internals.md draws them):

- ground: errors, enums, limits, findings, oids;
- private DER: the readers, writers and asn1crypto setup (``_der*``,
  ``_certificate_reader``, ``_extensions``...), which read the values' bytes;
- values: certificate, public_key, algorithms, sid;
- crypto, then (side by side, independent of each other) cms, policy and http;
- messages, then protocol;
- ``pyscep.wsgi``: the transport adapter, above the sans-IO core because it
  serves a server interface (WSGI/ASGI, asyncio's timeouts), below the
  applications that deploy it;
- applications: pyscep.server, pyscep.monitor, pyscep.demo, pyscep._appkit,
  pyscep.conformance;
- on top: pyscep.cli and pyscep.testing (and ``python -m pyscep``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pyscep"

#: Layer -> the modules in it, by prefix (a prefix covers a package and its submodules).
LAYERS: dict[str, tuple[str, ...]] = {
    "ground": (
        "pyscep.errors",
        "pyscep.enums",
        "pyscep.limits",
        "pyscep.findings",
        "pyscep.oids",
        "pyscep._version",
        "pyscep._deprecation",
    ),
    "der": (
        "pyscep._der",
        "pyscep._der_reader",
        "pyscep._der_writer",
        "pyscep._certificate_reader",
        "pyscep._asn1",
        "pyscep._spki",
        "pyscep._boundary",
        "pyscep._setup_asn1crypto",
        "pyscep._parser_switch",
        "pyscep._extensions",
    ),
    "values": ("pyscep.certificate", "pyscep.public_key", "pyscep.algorithms", "pyscep.sid"),
    "crypto": ("pyscep.crypto",),
    # The package front (``import pyscep``) re-exports ground, values and crypto.
    "front": ("pyscep",),
    "cms": ("pyscep.cms",),
    "policy": ("pyscep.policy",),
    "http": ("pyscep.http",),
    "messages": ("pyscep.messages",),
    "protocol": ("pyscep.protocol",),
    "adapters": ("pyscep.wsgi",),
    "applications": (
        "pyscep.server",
        "pyscep.monitor",
        "pyscep.demo",
        "pyscep._appkit",
        "pyscep.conformance",
    ),
    "cli": ("pyscep.cli", "pyscep.__main__"),
    "testing": ("pyscep.testing",),
}

#: The sans-IO library: everything below the transport adapter and the applications.
_CORE: tuple[str, ...] = ("ground", "der", "values", "crypto", "front", "cms", "policy")
_CORE += ("http", "messages", "protocol")

#: Layer -> the layers it may import (its own included).
ALLOWED: dict[str, frozenset[str]] = {
    "ground": frozenset({"ground"}),
    "der": frozenset({"ground", "der"}),
    "values": frozenset({"ground", "der", "values"}),
    "crypto": frozenset({"ground", "der", "values", "crypto"}),
    "front": frozenset({"ground", "der", "values", "crypto", "front"}),
    "cms": frozenset({"ground", "der", "values", "crypto", "front", "cms"}),
    # Policy decides on views of a request; it never reads a message or CMS itself.
    "policy": frozenset({"ground", "der", "values", "crypto", "front", "policy"}),
    # HTTP is pure values and the GET encoding: nothing above the ground.
    "http": frozenset({"ground", "http"}),
    "messages": frozenset(
        {"ground", "der", "values", "crypto", "front", "cms", "policy", "http", "messages"}
    ),
    "protocol": frozenset(_CORE),
    "adapters": frozenset({*_CORE, "adapters"}),
    "applications": frozenset({*_CORE, "adapters", "applications"}),
    # The command line prints and parses; the test kit builds. Neither needs the other.
    "cli": frozenset({*_CORE, "adapters", "applications", "cli"}),
    "testing": frozenset({*_CORE, "adapters", "applications", "testing"}),
}

#: Module -> the only pyscep modules it may import, tighter than its layer.
ONLY: dict[str, frozenset[str]] = {
    # The root of every error names no value: a raised error carries plain fields.
    "pyscep.errors": frozenset({"pyscep.enums"}),
}

#: Module prefix -> pyscep modules it must not import although its layer could.
FORBIDDEN_MODULES: dict[str, tuple[str, ...]] = {
    # Policy values hold no asn1crypto: the policy reads names through _extensions only.
    "pyscep.policy": ("pyscep._asn1",),
}

#: Only applications do I/O or read the clock: the core imports none of these.
IO_MODULES = (
    "asyncio",
    "http.client",
    "http.server",
    "pathlib",
    "psycopg",
    "selectors",
    "shutil",
    "socket",
    "sqlite3",
    "ssl",
    "subprocess",
    "tempfile",
    "time",
    "urllib.request",
)


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute module name."""

    target: str
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(
    source: str, module: str, *, is_package: bool, known: frozenset[str]
) -> list[Import]:
    """Every import in ``source``, at any depth (functions, ``if TYPE_CHECKING:``), resolved.

    ``from package import name`` counts as importing ``package.name`` when that
    is a module (``known``), else as importing ``package``.
    """
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                source_module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source_module = node.module or ""
            for alias in node.names:
                submodule = f"{source_module}.{alias.name}"
                target = submodule if submodule in known else source_module
                found.append(Import(target, node.lineno))
    return found


def layer_of(module: str) -> str | None:
    """The layer of a pyscep module: the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            # "pyscep" is the package front only, not a prefix of everything
            covers = module == prefix or (prefix != "pyscep" and module.startswith(prefix + "."))
            if covers and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return None if best is None else best[1]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(
    module: str, source: str, *, is_package: bool = False, known: frozenset[str] = frozenset()
) -> list[str]:
    """What the module's imports break, one line per broken rule."""
    layer = layer_of(module)
    if layer is None:
        return [f"{module} is in no layer"]
    found = []
    for imported in imports_of(source, module, is_package=is_package, known=known):
        where = f"{module}:{imported.line} imports {imported.target}"
        target = imported.target
        if _within(target, "pyscep"):
            target_layer = layer_of(target)
            if target_layer is not None and target_layer not in ALLOWED[layer]:
                found.append(f"{where} ({layer} may not import {target_layer})")
            only = ONLY.get(module)
            if only is not None and target not in only:
                found.append(f"{where} (it may import only {sorted(only)})")
            for prefix, forbidden in FORBIDDEN_MODULES.items():
                if _within(module, prefix) and any(_within(target, f) for f in forbidden):
                    found.append(f"{where} (forbidden to {prefix})")
        elif layer in _CORE and any(_within(target, io) for io in IO_MODULES):
            found.append(f"{where} (I/O or a clock in the core)")
    return found


def _package_sources() -> dict[str, tuple[str, bool]]:
    return {
        module_name(path): (path.read_text(), path.name == "__init__.py")
        for path in SRC.rglob("*.py")
    }


def test_the_layers_import_one_way() -> None:
    sources = _package_sources()
    known = frozenset(sources)
    found = [
        line
        for module, (source, is_package) in sorted(sources.items())
        for line in violations(module, source, is_package=is_package, known=known)
    ]
    assert found == []
    assert len(sources) > 60  # the walk did see the package


def test_every_layer_rule_names_a_layer() -> None:
    assert set(ALLOWED) == set(LAYERS)
    assert all(allowed <= set(LAYERS) for allowed in ALLOWED.values())
    # protocol has its rules, and the applications sit above it
    assert "applications" not in ALLOWED["protocol"]
    assert "protocol" in ALLOWED["applications"]


# --- the checker is not blind ----------------------------------------------------

_SNEAKY_ERRORS = """
from __future__ import annotations
from typing import TYPE_CHECKING
from .enums import FailInfo
from .messages import reply

if TYPE_CHECKING:
    from pyscep.certificate import Certificate

def describe() -> str:
    import subprocess
    return ""
"""


def test_relative_type_checking_and_function_imports_are_all_seen() -> None:
    found = violations("pyscep.errors", _SNEAKY_ERRORS, known=frozenset({"pyscep.messages.reply"}))
    assert any(line.startswith("pyscep.errors:5 imports pyscep.messages.reply") for line in found)
    assert any(line.startswith("pyscep.errors:8 imports pyscep.certificate") for line in found)
    assert any(line.startswith("pyscep.errors:11 imports subprocess") for line in found)
    assert not any(line.startswith("pyscep.errors:4 ") for line in found)  # enums: allowed


def test_a_relative_import_climbs_from_a_package_and_from_a_module() -> None:
    source = "from ..server import app\nfrom .. import cli\n"
    known = frozenset({"pyscep.server.app", "pyscep.cli"})
    in_module = imports_of(source, "pyscep.protocol.client", is_package=False, known=known)
    in_package = imports_of(source, "pyscep.protocol.x", is_package=True, known=known)
    assert [i.target for i in in_module] == ["pyscep.server.app", "pyscep.cli"]
    assert [i.target for i in in_package] == ["pyscep.protocol.server", "pyscep.protocol"]
    found = violations("pyscep.protocol.client", source, known=known)
    assert [line.split(" (")[1] for line in found] == [
        "protocol may not import applications)",
        "protocol may not import cli)",
    ]


def test_applications_never_import_the_command_line() -> None:
    found = violations("pyscep.server.app", "def f() -> None:\n    from pyscep.cli import serve\n")
    assert found == ["pyscep.server.app:2 imports pyscep.cli (applications may not import cli)"]
    assert violations("pyscep.server.app", "import sqlite3\nimport pyscep.protocol\n") == []


def test_a_module_outside_every_layer_is_reported() -> None:
    assert violations("pyscep.newcomer", "") == ["pyscep.newcomer is in no layer"]
