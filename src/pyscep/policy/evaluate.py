"""The server-side decision: ISSUE, PENDING or REJECT for an enrollment or renewal.

Rules run in a fixed order and each leaves a trace entry; the last entry is
the rule that decided. The order, written here, matters for security: the
message type and the signature come first and the inventory only afterwards
(an attacker learns nothing about certificates by sending badly signed
requests), and a challenge is waived only once a renewal has authenticated.
Each rule is a step of `pyscep.policy._rules`; what they decide is a
`pyscep.policy.decision.Decision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend, get_backend
from pyscep.enums import FailInfo
from pyscep.errors import ScepError
from pyscep.policy import _rules as rules
from pyscep.policy.config import PolicyConfig
from pyscep.policy.decision import Classification, Decision, Outcome, TraceEntry
from pyscep.policy.identity import DistinguishedName, NamePattern
from pyscep.policy.inputs import Inventory, RequestView, SignerView

__all__ = ["decide_before_decrypting", "evaluate"]


def evaluate(
    request: RequestView,
    config: PolicyConfig,
    inventory: Inventory,
    ca_certificates: Sequence[Certificate],
    *,
    now: datetime,
    backend: CryptoBackend | str | None = None,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
) -> Decision:
    """Decide what to do with ``request``, and say why in the trace.

    ``algorithms`` applies to the signature a CA put on the request's signer
    certificate (the provenance check). Never raises for a decision: input
    that cannot be read is a rejection that says why.
    """
    run = rules.Run()
    try:
        decision = _evaluate(
            run, request, config, inventory, ca_certificates, now, get_backend(backend), algorithms
        )
        return _requested_terms(decision, request, config)
    except rules.Decided as decided:
        return decided.decision
    except ScepError as exc:
        # An unreadable certificate (the signer is attacker-supplied) is an
        # outcome like any other: a rejection that says why.
        fail_info = exc.fail_info if exc.fail_info is not None else FailInfo.BAD_REQUEST
        return run.reject("readable-input", fail_info, f"unreadable input: {exc}").decision


def _evaluate(
    run: rules.Run,
    request: RequestView,
    config: PolicyConfig,
    inventory: Inventory,
    cas: Sequence[Certificate],
    now: datetime,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> Decision:
    kind = request.message_type
    rules.type_and_signature(run, kind, request.signature_verified)
    rules.check_key(run, request, config)

    signer = request.signer
    if rules.trusted_ra(run, signer, config):
        rules.requested_sid(run, request, config, renewed=None)
        return rules.on_behalf(run, request, config, inventory, waiver="authorized by a trusted RA")
    ca = rules.provenance(run, signer, cas, backend, algorithms)
    if ca is None:
        rules.requested_sid(run, request, config, renewed=None)
        return rules.initial(run, request, config, inventory, kind)
    record = rules.check_signer(run, signer, config, inventory, now)
    signer_dn = DistinguishedName.from_certificate(signer)
    if signer_dn.matches(request.subject, config.renewal_rdn_match):
        run.passed("identity", f"signer and request match on {','.join(config.renewal_rdn_match)}")
        rules.requested_sid(run, request, config, renewed=signer)
        return rules.renewal(run, request, config, inventory, now, record)
    # Structured match: a CN holding ", O=Trusted RA" is one value, never three RDNs.
    enroller = next(
        (p for p in config.on_behalf_enrollers if NamePattern.parse(p).matches(signer_dn)), None
    )
    if enroller is None:
        raise run.reject(
            "identity",
            FailInfo.BAD_REQUEST,
            f"signer {signer_dn} does not match the requested {request.subject}",
        )
    run.passed("on-behalf", f"signer {signer_dn} is an authorized enroller ({enroller})")
    rules.requested_sid(run, request, config, renewed=None)  # the enroller's SID is its own
    return rules.on_behalf(run, request, config, inventory)


def _requested_terms(decision: Decision, request: RequestView, config: PolicyConfig) -> Decision:
    """What the CSR asks for that the config honours: a lifetime, a template's role.

    Noted in the trace just before the rule that decided.
    """
    notes: list[TraceEntry] = []
    validity = None
    if config.honour_requested_validity and request.requested_validity is not None:
        validity = min(request.requested_validity, config.maximum_validity)
        notes.append(
            TraceEntry(
                "validity",
                Outcome.INFO,
                f"{validity.days} days (asked {request.requested_validity.days})",
            )
        )
    role = decision.role
    template = request.certificate_template
    if (
        config.role_from_template
        and template
        and decision.classification is not Classification.RENEWAL
    ):
        role = template
        notes.append(TraceEntry("template", Outcome.INFO, f"role {template!r} from the template"))
    if not notes:
        return decision
    trace = (*decision.trace[:-1], *notes, decision.trace[-1])
    return replace(decision, trace=trace, validity=validity, role=role)


def decide_before_decrypting(
    view: SignerView,
    config: PolicyConfig,
    inventory: Inventory,
    ca_certificates: Sequence[Certificate],
    *,
    now: datetime,
    backend: CryptoBackend | str | None = None,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
) -> Decision | None:
    """A REJECT decided from the message type and signer alone, or None when the CSR is needed.

    Verify before you decrypt holds for policy too: a request that is no
    enrollment, whose signature failed, or whose signer is neither
    self-signed (a first enrollment) nor a valid certificate of one of our
    CAs is refused without opening its envelope. Its trace is the same
    `evaluate` would give up to that rule.
    """
    run = rules.Run()
    try:
        rules.type_and_signature(run, view.message_type, view.signature_verified)
        if rules.trusted_ra(run, view.signer, config):
            return None  # the RA vouches; the CSR decides the rest
        ca = rules.provenance(run, view.signer, ca_certificates, get_backend(backend), algorithms)
        if ca is not None:
            rules.check_signer(run, view.signer, config, inventory, now)
    except rules.Decided as decided:
        return decided.decision
    except ScepError as exc:
        fail_info = exc.fail_info if exc.fail_info is not None else FailInfo.BAD_REQUEST
        return run.reject("readable-input", fail_info, f"unreadable input: {exc}").decision
    return None
