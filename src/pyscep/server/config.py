"""The reference server's configuration: `ServeOptions`, checked before a server starts
(`check_options`); `pyscep.server.settings` reads them from a file, the ``PYSCEP_*``
variables and the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pyscep.errors import ScepError
from pyscep.policy import parse_scep_conf
from pyscep.protocol.challenges import require_secret
from pyscep.protocol.profiles import PROFILES

from .file_ca import CA_KEY_TYPES

__all__ = [
    "BODY_TIMEOUT",
    "MAX_CRL_DAYS",
    "MAX_VALIDITY_DAYS",
    "ServeConfigError",
    "ServeOptions",
    "check_options",
    "require_whole_pair",
]

#: The longest lifetime an issued certificate may be given, in days (about 100 years).
MAX_VALIDITY_DAYS = 36_500
#: The longest a CRL may be valid, in days (it is renewed after half its lifetime).
MAX_CRL_DAYS = 366
#: Seconds a client may take to send its request, by default (``pyscep serve``'s own HTTP
#: server; under gunicorn or uvicorn their own timeouts apply).
BODY_TIMEOUT = 30


class ServeConfigError(ScepError):
    """A configuration ``pyscep serve`` refuses to start with, and why."""


@dataclass(frozen=True)
class ServeOptions:
    """How the reference server behaves."""

    state_dir: Path
    #: The shared challenge (``static`` mode; never empty); unused in ``one-time`` mode.
    challenge: str | None = None
    pending_polls: int = 0
    manual: bool = False
    legacy: bool = False
    ra: bool = False
    next_ca: bool = False
    #: Interop profile: the capabilities advertised (`pyscep.protocol.profiles`).
    profile: str = "strict"
    #: One JSON line per pkiMessage decided on (type, algorithms, outcome, reason).
    log: Path | None = None
    #: A PostgreSQL URL for the state (workers on several machines); SQLite in
    #: ``state_dir`` otherwise.
    state_url: str | None = None
    #: ``static`` (``challenge`` for everyone) or ``one-time`` (``serve challenge``).
    challenge_mode: str = "static"
    #: An OpenCA scep.conf: every enrollment and renewal is decided by `pyscep.policy`.
    policy: Path | None = None
    #: Lifetime of issued certificates, in days (a policy's decided validity wins).
    validity_days: int = 365
    #: The key type of a CA this server creates (an existing CA is used as it is).
    ca_key_type: str = "rsa2048"
    #: Where relying parties fetch the CRL (http:// or https://): written into every
    #: certificate issued, and served at its path (``/crl`` without it).
    crl_url: str | None = None
    #: How long each CRL is valid, in days (a new one is signed after half of it).
    crl_days: int = 7
    #: An existing CA instead of the state directory's: its certificate, and its key as a
    #: PEM or DER file or an RFC 7512 ``pkcs11:`` URI (the key stays in the token).
    ca_cert: Path | None = None
    ca_key: str | None = None
    #: An RA that signs replies and opens requests for that CA (certificate and key alike).
    ra_cert: Path | None = None
    ra_key: str | None = None
    #: The certificates above an existing intermediate CA (PEM), up to its root: sent
    #: with the CA certificate in GetCACert, so that clients can build the chain.
    ca_chain: Path | None = None
    #: A TOML file of issuance profiles (`pyscep.server.profiles`), chosen per request
    #: by the policy's role; without one, every certificate follows the options above.
    issuance_profiles: Path | None = None
    #: ``intune`` challenge mode: Intune validates each request (docs/windows.md). The
    #: tenant and the application's client ID, and one credential: a client secret
    #: file, a certificate and its key (a file or a ``pkcs11:`` URI), or the platform's
    #: federated token file (workload identity, no secret at rest).
    intune_tenant: str | None = None
    intune_client_id: str | None = None
    intune_secret_file: Path | None = None
    intune_certificate: Path | None = None
    intune_key: str | None = None
    intune_federated_token_file: Path | None = None
    #: Where Entra ID and Graph are (Microsoft's by default), and the roots their TLS is
    #: checked against (the system's by default).
    intune_authority: str = "https://login.microsoftonline.com"
    intune_graph_url: str = "https://graph.microsoft.com"
    intune_ca_bundle: Path | None = None
    #: A Windows account SID a request asks for that nobody vouches for: ``strip`` (issue
    #: without it) or ``refuse`` (badRequest). It is never copied (docs/windows.md).
    requested_sid: str = "strip"
    #: An NDES-style ``/certsrv/mscep_admin/`` page handing out one-time challenges to MDM
    #: connectors (docs/windows.md): who may fetch them (``basic USER:PASSWORD`` and
    #: ``bearer TOKEN`` lines, a file only its owner reads), and how long each lives.
    ndes_admin_credentials: Path | None = None
    ndes_admin_ttl: int = 3600
    #: Most challenges of the page waiting unused at once (NDES's password cache).
    ndes_admin_cache: int = 100
    #: TLS ends at a proxy the operator trusts to say so (``X-Forwarded-Proto``, as
    #: gunicorn's ``--forwarded-allow-ips`` or uvicorn's ``--proxy-headers`` read it):
    #: the page then takes the request's scheme for it. Off: the connection's own TLS.
    ndes_admin_behind_proxy: bool = False


def require_whole_pair(role: str, certificate: Path | None, key: str | None) -> None:
    """An existing CA (or RA) is its certificate and its key, both or neither: half of one
    must never fall back to the state directory's CA (certificates from the wrong issuer)."""
    if (certificate is None) != (key is None):
        flag = role.lower()
        raise ServeConfigError(
            f"an existing {role} is given by --{flag}-cert and --{flag}-key together"
        )


def check_options(options: ServeOptions) -> ServeOptions:
    """``options`` if a server may start with them; ServeConfigError says what is wrong."""
    if options.challenge_mode not in ("static", "one-time", "intune"):
        raise ServeConfigError(
            f"challenge mode {options.challenge_mode!r}: 'static', 'one-time' or 'intune'"
        )
    if options.challenge_mode == "intune":
        _check_intune(options)
    if options.challenge_mode == "static":
        if options.challenge is None:
            raise ServeConfigError(
                "the challenge (--challenge or PYSCEP_CHALLENGE) is required in static mode"
                " (or use --challenge-mode one-time for challenges made per device)"
            )
        try:
            require_secret(options.challenge, "the challenge (--challenge or PYSCEP_CHALLENGE)")
        except ScepError as exc:
            raise ServeConfigError(
                f"{exc}: an empty challenge would admit anyone (use --challenge-mode one-time"
                " for challenges made per device)"
            ) from None
    elif options.challenge is not None:
        raise ServeConfigError(
            "a shared challenge is not used in one-time mode: drop --challenge"
            " (or PYSCEP_CHALLENGE), or use --challenge-mode static"
        )
    if not 1 <= options.validity_days <= MAX_VALIDITY_DAYS:
        raise ServeConfigError(f"the validity is from 1 to {MAX_VALIDITY_DAYS} days")
    if options.pending_polls < 0:
        raise ServeConfigError("--pending-polls cannot be negative")
    if options.policy is not None:
        if options.pending_polls:
            raise ServeConfigError(
                "--pending-polls has no effect with --policy (the policy decides what waits)"
            )
        try:
            parse_scep_conf(options.policy.read_text())
        except OSError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc.strerror}") from None
        except ScepError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc}") from None
    if options.ndes_admin_credentials is not None:
        if options.challenge_mode != "one-time":
            raise ServeConfigError(
                "the mscep_admin page hands out one-time challenges: use --challenge-mode"
                " one-time with --ndes-admin-credentials"
            )
        from .ndes_admin import load_ndes_admin_credentials  # it uses this module's error

        load_ndes_admin_credentials(options.ndes_admin_credentials)
    if options.ndes_admin_ttl < 3600:
        # Connectors (Fleet) take an NDES password to be good for 57 minutes.
        raise ServeConfigError("an mscep_admin challenge lives at least 3600 seconds, as NDES's")
    if options.ndes_admin_cache < 1:
        raise ServeConfigError("the mscep_admin password cache holds at least one")
    if options.requested_sid not in ("strip", "refuse"):
        raise ServeConfigError(f"requested SID {options.requested_sid!r}: 'strip' or 'refuse'")
    if options.profile not in PROFILES:
        raise ServeConfigError(f"unknown profile {options.profile!r}: {', '.join(PROFILES)}")
    if not 1 <= options.crl_days <= MAX_CRL_DAYS:
        raise ServeConfigError(f"a CRL is valid from 1 to {MAX_CRL_DAYS} days (--crl-days)")
    if options.crl_url is not None:
        url = urlsplit(options.crl_url)
        if url.scheme not in ("http", "https") or not url.netloc or len(url.path) < 2:
            raise ServeConfigError(
                f"--crl-url {options.crl_url!r}: an http:// or https:// URL with a path,"
                " such as http://ca.example/crl"
            )
    require_whole_pair("CA", options.ca_cert, options.ca_key)
    if options.ca_chain is not None and options.ca_cert is None:
        raise ServeConfigError("--ca-chain goes with an existing CA: --ca-cert and --ca-key")
    if options.issuance_profiles is not None:
        from .profiles import load_issuance_profiles  # profiles use this module's limits

        load_issuance_profiles(options.issuance_profiles)
    require_whole_pair("RA", options.ra_cert, options.ra_key)
    if options.ra_cert is not None and options.ca_cert is None:
        raise ServeConfigError("--ra-cert serves an existing CA: give --ca-cert and --ca-key")
    if options.ca_cert is not None and (options.ra or options.next_ca):
        raise ServeConfigError(
            "--ra and --next-ca make keys in the state directory: with --ca-cert, give"
            " --ra-cert and --ra-key for an RA"
        )
    if options.ca_key_type not in CA_KEY_TYPES:
        raise ServeConfigError(
            f"a CA key cannot be {options.ca_key_type!r}: one of {', '.join(CA_KEY_TYPES)}"
            " (an Ed25519 key only signs: it cannot open requests)"
        )
    if options.ca_key_type.startswith("ml-") and options.profile != "post-quantum":
        raise ServeConfigError(
            f"--ca-key-type {options.ca_key_type} is post-quantum, which pyscep serves only"
            " with --profile post-quantum (opt-in)"
        )
    return options


def _check_intune(options: ServeOptions) -> None:
    """The intune mode's settings: a tenant, a client ID, and one credential."""
    if options.challenge is not None:
        raise ServeConfigError("a shared challenge is not used in intune mode: drop --challenge")
    if not options.intune_tenant or not options.intune_client_id:
        raise ServeConfigError("intune mode needs --intune-tenant and --intune-client-id")
    given = [
        options.intune_secret_file is not None,
        options.intune_certificate is not None or options.intune_key is not None,
        options.intune_federated_token_file is not None,
    ]
    if sum(given) != 1:
        raise ServeConfigError(
            "intune mode takes one credential: --intune-secret-file, --intune-certificate"
            " with --intune-key, or --intune-federated-token-file"
        )
    if (options.intune_certificate is None) != (options.intune_key is None):
        raise ServeConfigError("--intune-certificate and --intune-key go together")
