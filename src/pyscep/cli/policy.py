"""``pyscep policy check``: what the policy decides for a request file, and why."""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from datetime import datetime
from pathlib import Path

from pyscep._appkit.clock import now_or
from pyscep.algorithms import LEGACY
from pyscep.certificate import Certificate
from pyscep.crypto import load_decrypter, load_private_key
from pyscep.enums import MessageType
from pyscep.errors import LocalProtocolError, ScepError
from pyscep.messages import (
    CertificationRequest,
    decrypt_pki_message,
    parse_pki_message,
    policy_request_view,
    verify_request,
)
from pyscep.policy import (
    ChallengeVerdict,
    Decision,
    DistinguishedName,
    InMemoryInventory,
    PolicyConfig,
    PublicKeyView,
    RequestView,
    SignerView,
    decide_before_decrypting,
    evaluate,
    inventory_from_json,
    parse_scep_conf,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``policy check``."""
    policy = commands.add_parser("policy", help="enrollment and renewal policy tools")
    actions = policy.add_subparsers(dest="action", required=True, help="what to do")
    check = actions.add_parser(
        "check",
        help="decide a request under a scep.conf policy and print the trace",
        description="Exit status: 0 when a decision was made (whatever it is), 2 on bad input.",
    )
    check.add_argument("--config", required=True, help="scep.conf (OpenCA format)")
    check.add_argument("--request", required=True, help="pkiMessage (DER/PEM/base64) or a CSR")
    check.add_argument("--inventory", required=True, help="inventory JSON (see docs/policy.md)")
    check.add_argument("--ca-cert", action="append", required=True, help="our CA certificate(s)")
    check.add_argument("--ca-key", help="the CA (recipient) key, to decrypt a pkiMessage")
    check.add_argument("--signer-cert", help="with a bare CSR: the certificate that signed it")
    check.add_argument(
        "--message-type",
        choices=["PKCSReq", "RenewalReq"],
        default="PKCSReq",
        help="with a bare CSR: what it arrived as",
    )
    group = check.add_mutually_exclusive_group()
    group.add_argument("--challenge-ok", action="store_true", help="the challenge checked out")
    group.add_argument("--challenge", help="the expected challenge password")
    check.add_argument("--now", help="ISO 8601 time to decide at (default: now)")
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.set_defaults(handler=run)


def _fail(message: str) -> int:
    print(f"pyscep policy check: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Evaluate and print."""
    try:
        cas = [c for path in args.ca_cert for c in Certificate.load_all(Path(path).read_bytes())]
        config = parse_scep_conf(Path(args.config).read_text())
        inventory_path = Path(args.inventory)
        inventory = inventory_from_json(
            inventory_path.read_text(), lambda name: (inventory_path.parent / name).read_bytes()
        )
        now = now_or(args.now)
        early, view = _request_view(args, cas, config, inventory, now)
    except OSError as exc:
        return _fail(f"{exc.strerror}: {exc.filename}")
    except (ScepError, ValueError) as exc:
        return _fail(str(exc))
    if early is not None:
        decision = early
    else:
        assert view is not None  # _request_view returns one or the other
        decision = evaluate(view, config, inventory, cas, now=now)
    if args.json:
        print(json.dumps(decision.as_dict(), indent=2))
        return 0
    print(f"decision:       {decision.action.value}")
    print(f"classification: {decision.classification.value}")
    if decision.fail_info is not None:
        print(f"failInfo:       {decision.fail_info.rfc_name} ({decision.fail_info_text})")
    else:
        print(f"role, RA:       {decision.role!r}, {decision.ra!r}")
    print("trace:")
    for entry in decision.trace:
        print(f"  [{entry.outcome.value:4}] {entry.rule}: {entry.detail}")
    return 0


def _challenge(args: argparse.Namespace, csr: CertificationRequest) -> ChallengeVerdict:
    if args.challenge_ok:
        return ChallengeVerdict.accept("the operator vouches for the challenge (--challenge-ok)")
    if args.challenge is None or csr.challenge_password is None:
        return ChallengeVerdict.absent()
    if hmac.compare_digest(csr.challenge_password.encode(), args.challenge.encode()):
        return ChallengeVerdict.accept("the challenge password checked out")
    return ChallengeVerdict.refuse("the challenge password is wrong")


def _request_view(
    args: argparse.Namespace,
    cas: list[Certificate],
    config: PolicyConfig,
    inventory: InMemoryInventory,
    now: datetime,
) -> tuple[Decision | None, RequestView | None]:
    """A decision already reached from the signer alone, or the view to evaluate."""
    data = Path(args.request).read_bytes()
    try:
        message = parse_pki_message(data, defer=False)  # no pkiMessage: a bare CSR
    except ScepError:
        message = None
    if message is None:
        if not args.signer_cert:
            raise LocalProtocolError("a bare CSR needs --signer-cert")
        csr = CertificationRequest.load(data)
        kind = (
            MessageType.RENEWAL_REQ if args.message_type == "RenewalReq" else MessageType.PKCS_REQ
        )
        # No pkiMessage: the operator vouches for the signer.
        return None, RequestView(
            message_type=kind,
            subject=DistinguishedName.from_der(csr.subject_der),
            public_key=PublicKeyView.of(csr.public_key),
            signer=Certificate.load(Path(args.signer_cert).read_bytes()),
            signature_verified=True,
            challenge=_challenge(args, csr),
            subject_alt_names=csr.subject_alt_names,
            extended_key_usages=csr.extended_key_usages,
        )
    try:
        checked = verify_request(message, algorithms=LEGACY)
    except ScepError:
        return None, policy_request_view(message)
    # Verify before decrypting holds for policy too: decide from the signer first.
    early = decide_before_decrypting(
        SignerView(checked.message_type, checked.signer_certificate, True, checked.transaction_id),
        config,
        inventory,
        cas,
        now=now,
    )
    if early is not None:
        return early, None
    if not args.ca_key:
        raise LocalProtocolError("the decision needs the CSR inside the pkiMessage: pass --ca-key")
    key = load_private_key(Path(args.ca_key).read_bytes())
    content = None
    for ca in cas:
        try:
            content = decrypt_pki_message(checked, load_decrypter(key, ca))
            break
        except ScepError:
            continue
    if not isinstance(content, CertificationRequest):
        raise LocalProtocolError("the request does not decrypt to a CSR with --ca-key")
    return None, policy_request_view(checked, content, challenge=_challenge(args, content))
