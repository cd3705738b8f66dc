"""Issuance profiles: what a certificate of ``pyscep serve`` says, as data.

A profile names the lifetime, keyUsage, extendedKeyUsage, the subjectAltNames
that may be granted, and the CRL distribution point and authorityInfoAccess
URLs. Profiles are a TOML file (``--issuance-profiles FILE``), a table each::

    [default]
    validity_days = 365
    extended_key_usage = ["client_auth"]

    [vpn]
    validity_days = 90
    key_usage = ["digital_signature", "key_encipherment"]
    extended_key_usage = ["client_auth", "ipsec_ike"]
    subject_alt_names = ["dns_name:*.vpn.example.com", "ip_address:10.0.0.0/8"]
    crl_urls = ["http://ca.example.com/crl"]
    ca_issuers_urls = ["http://ca.example.com/ca.cer"]

The policy chooses one per request: the role its decision names (OpenCA's
``ScepDefaultRole``, or a CSR's certificate template with
``ScepRoleFromTemplate``) is the profile's name, and a request without a role
is issued on ``default``. A role without a profile is refused, never issued
on another one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pyscep.errors import LocalProtocolError
from pyscep.messages import (
    END_ENTITY_KEY_USAGES,
    SUBJECT_ALT_NAME_KINDS,
    extended_key_purpose,
)

from .config import MAX_VALIDITY_DAYS, ServeConfigError
from .settings import read_toml

__all__ = ["DEFAULT_PROFILE", "IssuanceProfile", "IssuanceProfiles", "load_issuance_profiles"]

#: The profile of a request whose decision names no role.
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class IssuanceProfile:
    """What a certificate issued on this profile says. None: the server's own setting
    (``--validity``, ``--crl-url``; the key type's keyUsage; the names as decided)."""

    name: str = DEFAULT_PROFILE
    validity_days: int | None = None
    #: keyUsage bits (`pyscep.messages.END_ENTITY_KEY_USAGES` names).
    key_usage: tuple[str, ...] | None = None
    #: extendedKeyUsage purposes: names (``client_auth``) or dotted OIDs.
    extended_key_usage: tuple[str, ...] = ()
    #: The subjectAltNames that may be granted, as ``kind:pattern`` (``*`` is one DNS
    #: label, an address's local part or a URI's path segment; an ``ip_address`` may be
    #: a network; a requested wildcard never matches). With a rule the names a request asks for are
    #: granted when they match; without one (None), only the names a policy grants or a
    #: renewed certificate had.
    subject_alt_names: tuple[str, ...] | None = None
    crl_urls: tuple[str, ...] | None = None
    ca_issuers_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        """May a certificate of this profile hold the subjectAltName ``name``?"""
        if self.subject_alt_names is None:
            return True
        kind, _, value = name.partition(":")
        return any(_matches(rule, kind, value) for rule in self.subject_alt_names)

    def granted(self, names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``names`` split into those this profile grants and those it does not."""
        names = tuple(names)
        return (
            tuple(n for n in names if self.allows(n)),
            tuple(n for n in names if not self.allows(n)),
        )


def _matches(rule: str, kind: str, value: str) -> bool:
    rule_kind, _, pattern = rule.partition(":")
    if rule_kind != kind or "*" in value:  # a wildcard is never granted by a pattern
        return False
    if kind == "ip_address" and "/" in pattern:
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(pattern)
        except ValueError:
            return False
    if kind == "dns_name":
        labels = value.split(".")
        if not all(labels):
            return False  # an empty label: ".example.com", "a..example.com"
    # ``*`` stands for one DNS label, the local part of an address, one path segment.
    one = {"dns_name": "[^.]+", "rfc822_name": "[^@]+", "uniform_resource_identifier": "[^/]+"}
    regex = "".join(one.get(kind, ".+") if ch == "*" else re.escape(ch) for ch in pattern)
    if kind in ("dns_name", "rfc822_name"):  # compared as DNS compares names
        return re.fullmatch(regex, value, re.IGNORECASE) is not None
    return re.fullmatch(regex, value) is not None


@dataclass(frozen=True)
class IssuanceProfiles:
    """The profiles a server issues on, by name (always one named ``default``)."""

    profiles: Mapping[str, IssuanceProfile]
    #: Every role is issued on ``default`` (the server without a profiles file).
    any_role: bool = False

    def for_role(self, role: str | None) -> IssuanceProfile | None:
        """The profile of a decision's ``role`` (``default`` for none); None: no such
        profile, and the request is refused."""
        if self.any_role:
            return self.profiles[DEFAULT_PROFILE]
        return self.profiles.get(role or DEFAULT_PROFILE)


#: Without a profiles file: one profile, the server's own settings, whatever the role.
BUILT_IN = IssuanceProfiles({DEFAULT_PROFILE: IssuanceProfile()}, any_role=True)

_URL_LISTS = ("crl_urls", "ca_issuers_urls", "ocsp_urls")


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ServeConfigError(f"{where} must be a list of strings, not {value!r}")
    return tuple(value)


def _profile(where: str, name: str, table: Any) -> IssuanceProfile:
    if not isinstance(table, dict):
        raise ServeConfigError(f"{where} must be a table ([{name}]), not {table!r}")
    known = {f.name for f in fields(IssuanceProfile)} - {"name"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        at = f"{where}.{key}"
        if key not in known:
            raise ServeConfigError(f"{at}: unknown key (the keys: {', '.join(sorted(known))})")
        if key == "validity_days":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ServeConfigError(f"{at} must be a whole number, not {value!r}")
            if not 1 <= value <= MAX_VALIDITY_DAYS:
                raise ServeConfigError(f"{at}: from 1 to {MAX_VALIDITY_DAYS} days")
            values[key] = value
            continue
        values[key] = _strings(at, value)
    for key in _URL_LISTS:
        for url in values.get(key, ()):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https", "ldap") or not parts.netloc:
                raise ServeConfigError(f"{where}.{key}: {url!r} is not an http:// or ldap:// URL")
    usage = values.get("key_usage")
    if usage is not None:
        wrong = [u for u in usage if u not in END_ENTITY_KEY_USAGES]
        if wrong or not usage:
            raise ServeConfigError(
                f"{where}.key_usage {wrong or '(empty)'}: an end entity's keyUsage is one or"
                f" more of {', '.join(END_ENTITY_KEY_USAGES)}"
            )
    for purpose in values.get("extended_key_usage", ()):
        try:
            extended_key_purpose(purpose)
        except LocalProtocolError as exc:
            raise ServeConfigError(f"{where}: {exc}") from None
    for rule in values.get("subject_alt_names", ()):
        kind, sep, pattern = rule.partition(":")
        if not sep or kind not in SUBJECT_ALT_NAME_KINDS or not pattern:
            kinds = ", ".join(k + ":PATTERN" for k in SUBJECT_ALT_NAME_KINDS)
            raise ServeConfigError(f"{where}.subject_alt_names {rule!r}: write {kinds}")
    return IssuanceProfile(name=name, **values)


def load_issuance_profiles(path: Path) -> IssuanceProfiles:
    """The profiles of the TOML file ``path``, checked: ServeConfigError names the key."""
    document = read_toml(path, "the issuance profiles")
    profiles = {name: _profile(f"{path}: {name}", name, table) for name, table in document.items()}
    if DEFAULT_PROFILE not in profiles:
        raise ServeConfigError(
            f"{path}: no [{DEFAULT_PROFILE}] profile (what a request without a role is issued on)"
        )
    return IssuanceProfiles(profiles)
