"""The DER fast path against asn1crypto, its differential oracle.

`pyscep._der_reader` (with `cms.signed._reader` and `cms.enveloped._reader`)
reads canonical DER of the usual envelope shapes and steps aside for the rest.
Every test here parses the same input twice, once as shipped and once with the
fast path switched off (`pyscep._parser_switch.asn1crypto_only`), and requires
the same outcome: the same values, or the same error (type, text, failInfo,
path). The switch counts which path each reading took, and every comparison
asserts that the asn1crypto side really ran on asn1crypto (and the shipped side
decided once), so the suite cannot quietly compare the fast path with itself.
The inputs are the conformance vectors, the benchmark messages, generated
messages of every type, their mutations, and limits set exactly at each input's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyscep import Certificate, LimitExceededError, Limits, ScepError
from pyscep._der import prescan
from pyscep._der_reader import (
    NotCanonicalError,
    Reader,
    content_type_name,
    decode_oid,
    oid_octets,
    utc_time,
)
from pyscep._parser_switch import (
    ParserCounts,
    Reading,
    asn1crypto_only,
    count_paths,
)
from pyscep.cms.enveloped import _reader as _enveloped_reader
from pyscep.cms.enveloped import parse_enveloped_data
from pyscep.cms.signed import _reader as _signed_reader
from pyscep.cms.signed import parse_signed_data, parse_signed_envelope
from pyscep.limits import DEFAULT_LIMITS
from pyscep.messages import UnverifiedPKIMessage, parse_pki_message
from pyscep.testing import strategies as scep_st

ROOT = Path(__file__).resolve().parents[1]
VECTORS = sorted(
    [*(ROOT / "tests" / "vectors").glob("**/*.der"), *(ROOT / "bench" / "fixtures").glob("*.der")]
)
_View = TypeVar("_View")
MUTATIONS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def assert_paths(reading: Reading, shipped: ParserCounts, forced: ParserCounts) -> None:
    """The forced run read on asn1crypto only, and ``reading`` ran there whenever the
    shipped run decided it; the shipped run took the fast path for it or not, never both."""
    decided = shipped.fast[reading] + shipped.asn1crypto[reading]
    assert forced.total("fast") == 0, "the fast path ran while switched off"
    if decided:
        assert forced.asn1crypto[reading] >= 1, f"the asn1crypto path did not read {reading}"


def _both_paths(
    view: Callable[[bytes], _View], der: bytes, reading: Reading
) -> tuple[_View, _View]:
    """``view(der)`` as shipped, and with the fast path switched off (asn1crypto alone),
    after checking that each ran on the path it claims (`assert_paths`)."""
    with count_paths() as shipped:
        fast = view(der)
    with asn1crypto_only(), count_paths() as forced:
        slow = view(der)
    assert_paths(reading, shipped, forced)
    return fast, slow


def _message_view(data: bytes, limits: Limits) -> object:
    return _view_of(parse_pki_message(data, limits=limits))


def _view_of(message: UnverifiedPKIMessage) -> object:
    return (
        message.attributes,
        message.findings,
        message.envelope,
        message.signing_time,
        message.certificates,
        message.signer_identifier,
        message.digest_algorithm,
        message.signature_algorithm,
        message.signature_algorithm_oid,
        message.pss_parameters,
    )


def _signed_view(data: bytes, limits: Limits) -> object:
    return parse_signed_data(data, limits=limits)


def _envelope_view(data: bytes, limits: Limits) -> object:
    return parse_enveloped_data(data, limits=limits)


PARSERS: dict[str, tuple[Callable[[bytes, Limits], object], Reading]] = {
    "parse_pki_message": (_message_view, "signed_data"),
    "parse_signed_data": (_signed_view, "signed_data"),
    "parse_enveloped_data": (_envelope_view, "enveloped_data"),
}


def _outcome(parse: Callable[[bytes, Limits], object], data: bytes, limits: Limits) -> object:
    try:
        return ("value", parse(data, limits))
    except ScepError as exc:
        extra = (getattr(exc, "transaction_id", None), getattr(exc, "sender_nonce", None))
        return ("error", type(exc), str(exc), exc.fail_info, getattr(exc, "path", None), extra)


def _compare(
    parse: Callable[[bytes, Limits], object], reading: Reading, data: bytes, limits: Limits
) -> None:
    with count_paths() as shipped:
        fast = _outcome(parse, data, limits)
    with asn1crypto_only(), count_paths() as forced:
        slow = _outcome(parse, data, limits)
    # Every parse decides its first reading exactly once, on one path.
    assert shipped.fast[reading] + shipped.asn1crypto[reading] == 1
    assert forced.asn1crypto[reading] == 1
    assert_paths(reading, shipped, forced)
    assert fast == slow


def assert_same(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    for name, (parse, reading) in PARSERS.items():
        try:
            _compare(parse, reading, data, limits)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def _envelope_of(data: bytes) -> bytes | None:
    try:
        return parse_signed_data(data).content
    except ScepError:
        return None


def _fast_reads(data: bytes) -> bool:
    try:
        _signed_reader.read_signed_data(Reader(data, Limits()))
    except NotCanonicalError:
        return False
    return True


def _fast_reads_envelope(data: bytes) -> bool:
    try:
        _enveloped_reader.read_enveloped_data(Reader(data, Limits()))
    except NotCanonicalError:
        return False
    return True


# --- the vectors ---------------------------------------------------------------


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_every_vector_reads_the_same(path: Path) -> None:
    data = path.read_bytes()
    assert_same(data)
    envelope = _envelope_of(data)
    if envelope:
        assert_same(envelope)


def test_the_fast_path_reads_the_common_messages() -> None:
    """Without this the differential tests above could pass with the fast path never taken."""
    for name in ("pkcsreq.der", "certrep.der"):
        data = (ROOT / "bench" / "fixtures" / name).read_bytes()
        assert _fast_reads(data), name
        envelope = _envelope_of(data)
        assert envelope is not None
        assert _fast_reads_envelope(envelope), name
    # Real peers' messages in canonical DER with the usual attributes take it too.
    fast = [p.name for p in VECTORS if _fast_reads(p.read_bytes())]
    assert any(name.startswith("micromdm") for name in fast)
    assert any(name.startswith("certmonger") for name in fast)


def test_the_envelope_is_read_in_the_pass_that_counts_it() -> None:
    """The fast path reads a pkcsPKIEnvelope while it reads the SignedData, with the
    same value as reading the eContent on its own; an eContent it cannot read as one
    is walked for the limits instead, and the message still reads the same."""
    for name in ("pkcsreq.der", "certrep.der"):
        data = (ROOT / "bench" / "fixtures" / name).read_bytes()
        with count_paths() as counts:
            signed = parse_signed_data(data)
        assert signed.content is not None
        assert signed._envelope is not None
        assert counts.fast["enveloped_data"] == 1
        with count_paths() as counts:
            assert parse_signed_envelope(signed) == parse_enveloped_data(signed.content)
        assert counts.fast["enveloped_data"] == 1  # parse_enveloped_data's; the first is reused
        # EnvelopedData version 0 -> 7: outside what the reader reads.
        version = data.index(b"\x02\x01\x00", data.index(signed.content))
        unusual = data[:version] + b"\x02\x01\x07" + data[version + 3 :]
        with count_paths() as counts:
            assert parse_signed_data(unusual)._envelope is None
        assert counts.fast == {"signed_data": 1, "certificate": 1}
        assert _fast_reads(unusual)
        assert_same(unusual)


def test_signed_attributes_out_of_der_order_are_noted_on_both_paths() -> None:
    from pyscep.findings import FindingCode

    data = (ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes()
    attributes = parse_signed_data(data).signer_infos[0].signed_attrs_der
    assert attributes is not None
    reader = Reader(attributes, DEFAULT_LIMITS)
    start, end = reader.element(0, len(attributes), 0x31, 1)
    first_end = reader.span(start, end, 0x30)
    second_end = reader.span(first_end, end, 0x30)
    swapped = attributes[first_end:second_end] + attributes[start:first_end]
    at = data.index(attributes[start:second_end])
    unsorted = data[:at] + swapped + data[at + len(swapped) :]
    assert _fast_reads(unsorted)
    codes = [f.code for f in parse_pki_message(unsorted).findings]
    assert FindingCode.UNSORTED_SIGNED_ATTRIBUTES in codes
    assert FindingCode.UNSORTED_SIGNED_ATTRIBUTES not in [
        f.code for f in parse_pki_message(data).findings
    ]
    assert_same(unsorted)


def test_ber_and_unusual_shapes_step_aside() -> None:
    request = (ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes()
    # Non-minimal outer length (0x82 0x0a 0x05 -> 0x83 0x00 0x0a 0x05): BER, not for the fast path.
    assert request[1] == 0x82
    ber = b"\x30\x83\x00" + request[2:]
    assert not _fast_reads(ber)
    assert_same(ber)
    # Trailing bytes: refused, and by the asn1crypto path's own words.
    assert not _fast_reads(request + b"\x00")
    assert_same(request + b"\x00")


# --- generated and mutated messages -----------------------------------------


@MUTATIONS
@given(scep_st.any_message())
def test_generated_messages_read_the_same(data: bytes) -> None:
    assert_same(data)
    envelope = _envelope_of(data)
    if envelope:
        assert_same(envelope)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(scep_st.pki_requests())
def test_pyscep_requests_take_the_fast_path(data: bytes) -> None:
    assert _fast_reads(data)


@MUTATIONS
@given(scep_st.mutated())
def test_mutated_messages_read_the_same(data: bytes) -> None:
    assert_same(data)


@MUTATIONS
@given(scep_st.mutated(scep_st.pki_requests()))
def test_mutated_requests_read_the_same(data: bytes) -> None:
    assert_same(data)
    envelope = _envelope_of(data)
    if envelope:
        assert_same(envelope)


@MUTATIONS
@given(scep_st.mutated(scep_st.cert_reps()))
def test_mutated_cert_reps_read_the_same(data: bytes) -> None:
    assert_same(data)
    envelope = _envelope_of(data)
    if envelope:
        assert_same(envelope)


# --- deferred reading: the outcome of one pass --------------------------------


BENCH_CA = (ROOT / "bench" / "fixtures" / "ca.crt.der").read_bytes()
BENCH_CERT_REP = (ROOT / "bench" / "fixtures" / "certrep.der").read_bytes()
BENCH_PKCS_REQ = (ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes()
BENCH_CA_KEY = (ROOT / "bench" / "fixtures" / "ca.key.der").read_bytes()


#: The benchmark CA as a client holds it: one value, across every sequence.
HELD_CA = Certificate.load(BENCH_CA)


def _sequence(
    data: bytes,
    defer: bool,
    server: bool,
    limits: Limits = DEFAULT_LIMITS,
    ca: Certificate | None = None,
) -> object:
    """The outcome of parse, then verify as a server (or a client, holding ``ca``, by
    default the one `HELD_CA` across every sequence) does, then every accessor: the
    first error, wherever it is raised, or what was read. A client that defers reads
    an embedded copy of ``ca`` as the value it holds."""
    from pyscep.algorithms import LEGACY
    from pyscep.messages import verify_cert_rep, verify_request

    ca = HELD_CA if ca is None else ca
    try:
        message = parse_pki_message(data, limits=limits, defer=defer)
        try:
            if server:
                verified = verify_request(message, algorithms=LEGACY)
            else:
                verified = verify_cert_rep(message, ca_certificates=[ca], algorithms=LEGACY)
            checked: object = (verified.findings, verified.signer_certificate)
        except ScepError as exc:
            checked = _error_outcome(exc)
        return ("value", checked, _view_of(message))
    except ScepError as exc:
        return _error_outcome(exc)


def _error_outcome(exc: ScepError) -> object:
    ids = (getattr(exc, "transaction_id", None), getattr(exc, "sender_nonce", None))
    return (
        "error",
        type(exc),
        str(exc),
        exc.fail_info,
        getattr(exc, "path", None),
        ids,
        exc.reply_to,
    )


def assert_deferred_as_one_pass(data: bytes) -> None:
    """What parse defers (the certificates, the envelope) changes where an error is
    raised, never which: each step sequence ends as it does when parse reads it all."""
    for server in (True, False):
        one_pass = _sequence(data, False, server)
        assert _sequence(data, True, server) == one_pass
        with asn1crypto_only():
            assert _sequence(data, True, server) == one_pass


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_every_vector_ends_as_in_one_pass(path: Path) -> None:
    assert_deferred_as_one_pass(path.read_bytes())


@MUTATIONS
@given(scep_st.mutated(scep_st.pki_requests()))
def test_mutated_requests_end_as_in_one_pass(data: bytes) -> None:
    assert_deferred_as_one_pass(data)


@MUTATIONS
@given(scep_st.mutated(scep_st.cert_reps()))
def test_mutated_cert_reps_end_as_in_one_pass(data: bytes) -> None:
    assert_deferred_as_one_pass(data)


@MUTATIONS
@given(scep_st.mutated(st.just(BENCH_CERT_REP)))
def test_mutated_cert_reps_embedding_a_held_ca_end_as_in_one_pass(data: bytes) -> None:
    """Where a mutation leaves the embedded CA certificate whole, the client reads it as
    the one it holds (`test_a_held_certificate_is_counted_as_walking_it_counts`)."""
    assert_deferred_as_one_pass(data)


def test_a_held_certificate_is_counted_as_walking_it_counts() -> None:
    """A CertRep embeds the CA certificate the client holds: the client's value is used,
    counted from that value's own pre-scan instead of walked again, and every limit
    holds at the same edge as in one pass, where nothing is held."""
    from pyscep.messages import verify_cert_rep

    ca = Certificate.load(BENCH_CA)
    message = parse_pki_message(BENCH_CERT_REP)
    verify_cert_rep(message, ca_certificates=[ca])
    assert message.certificates[0] is ca  # the held value: not read again
    # A PENDING CertRep has no envelope: the CA certificate is its deepest part.
    pending = _pending_signed_by(ca)
    own = prescan(BENCH_CA)
    for data in (BENCH_CERT_REP, pending):
        whole = prescan(data)
        assert 1 < own.elements < whole.elements
        # The certificates are read last: a budget short of the whole message runs out
        # in the CA certificate, whose deepest element is 4 levels below the message's top.
        elements = [whole.elements, whole.elements - 1, whole.elements - own.elements + 1]
        depths = [whole.depth, whole.depth - 1, own.depth + 4, own.depth + 3]
        for limits in [
            *(Limits(max_elements=count) for count in elements),
            *(Limits(max_depth=depth) for depth in depths),
        ]:
            deferred = _sequence(data, True, False, limits)
            assert deferred == _sequence(data, False, False, limits), limits
        refused = _sequence(data, True, False, Limits(max_elements=whole.elements - 1))
        assert refused[:2] == ("error", LimitExceededError)  # type: ignore[index]
    assert prescan(pending).depth == own.depth + 4
    refused = _sequence(pending, True, False, Limits(max_depth=own.depth + 3))
    assert refused[:2] == ("error", LimitExceededError)  # type: ignore[index]


def _pending_signed_by(ca: Certificate) -> bytes:
    """A CertRep PENDING (no envelope) the benchmark CA's key signs, embedding ``ca``."""
    from pyscep import load_private_key
    from pyscep.crypto import KeyPair
    from pyscep.messages import ReplyTo, build_cert_rep_pending, verify_request

    request = verify_request(parse_pki_message(BENCH_PKCS_REQ))
    signer = KeyPair(load_private_key(BENCH_CA_KEY), ca)
    return build_cert_rep_pending(ReplyTo.of(request), signer=signer)


def test_a_held_ber_certificate_is_read_as_its_embedded_copy() -> None:
    """A held CA certificate in BER (one non-minimal length): its embedded copy is read
    as BER is, by asn1crypto, with the finding that says so, held or not."""
    from asn1crypto import x509

    from pyscep._der_writer import tlv
    from pyscep.findings import FindingCode

    parsed = x509.Certificate.load(BENCH_CA)
    tbs = parsed["tbs_certificate"]
    version = tbs["version"].dump()
    assert version == bytes.fromhex("a003020102")
    body = tbs.contents
    assert body.startswith(version)
    ber_version = bytes.fromhex("a00402810102")  # INTEGER 2 with a long-form length
    ber = tlv(
        0x30,
        tlv(0x30, ber_version + body[len(version) :])
        + parsed["signature_algorithm"].dump()
        + parsed["signature_value"].dump(),
    )
    held = Certificate.load(ber)
    pending = _pending_signed_by(held)
    assert ber in pending
    one_pass = _sequence(pending, False, False, ca=held)
    assert _sequence(pending, True, False, ca=held) == one_pass
    with asn1crypto_only():
        assert _sequence(pending, True, False, ca=held) == one_pass
    message = parse_pki_message(pending)
    assert FindingCode.BER_NON_MINIMAL_LENGTH in [finding.code for finding in message.findings]


@MUTATIONS
@given(st.data())
def test_an_odd_held_certificate_ends_as_in_one_pass(data: st.DataObject) -> None:
    """The held certificate is the CA's DER with bytes changed in place (the CertRep
    around it stays well-formed) and embedded as such: held as built from the bytes
    directly, and as loaded when it loads, it ends as in one pass."""
    odd = bytearray(BENCH_CA)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(odd) - 1))
        odd[position] = data.draw(st.sampled_from([0x00, 0x80, 0xFF, 0x30, 0x04, 0x03, 0x84]))
    at = BENCH_CERT_REP.index(BENCH_CA)
    reply = BENCH_CERT_REP[:at] + bytes(odd) + BENCH_CERT_REP[at + len(BENCH_CA) :]
    held = [Certificate(bytes(odd))]
    with contextlib.suppress(ScepError):
        held.append(Certificate.load(bytes(odd)))
    one_pass = _sequence(reply, False, False, ca=Certificate(bytes(odd)))
    for certificate in held:
        assert _sequence(reply, True, False, ca=certificate) == one_pass


def test_the_prescan_report_is_the_edge_of_its_limits() -> None:
    """`prescan` reports every element it counted and the deepest level it met, the DER
    hidden in strings included: the limits pass at exactly those numbers, not one less."""
    for data in (BENCH_CERT_REP, BENCH_CA):
        report = prescan(data)
        assert prescan(data, Limits(max_elements=report.elements)) == report
        assert prescan(data, Limits(max_depth=report.depth)) == report
        with pytest.raises(LimitExceededError, match="elements"):
            prescan(data, Limits(max_elements=report.elements - 1))
        with pytest.raises(LimitExceededError, match="deeper"):
            prescan(data, Limits(max_depth=report.depth - 1))


def test_a_deferred_error_comes_before_every_other() -> None:
    """A request whose envelope is broken and whose messageType is wrong for a server:
    the envelope's error, as in one pass, not the protocol error parse saw first."""
    from pyscep.messages import verify_request

    data = (ROOT / "bench" / "fixtures" / "certrep.der").read_bytes()
    envelope = _envelope_of(data)
    assert envelope is not None
    broken = data.replace(envelope[:40], envelope[:39] + b"\xff")
    with pytest.raises(ScepError) as in_one_pass:
        parse_pki_message(broken, defer=False)
    message = parse_pki_message(broken)  # a CertRep: verify_request refuses it...
    with pytest.raises(ScepError) as deferred:
        verify_request(message)  # ...but the envelope's error comes first
    assert _error_outcome(deferred.value) == _error_outcome(in_one_pass.value)


def _broken_cert_rep() -> bytes:
    """The bench CertRep, its envelope's first length made larger than the data."""
    data = (ROOT / "bench" / "fixtures" / "certrep.der").read_bytes()
    envelope = _envelope_of(data)
    assert envelope is not None
    return data.replace(envelope[:40], envelope[:39] + b"\xff")


def test_the_fast_paths_signer_info_is_the_one_its_constructor_makes() -> None:
    from dataclasses import asdict, fields

    from pyscep.cms.signed import ParsedSignerInfo

    data = (ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes()
    head = _signed_reader.read_signed_head(Reader(data, Limits()))
    (info,) = head.signer_infos
    assert set(vars(info)) == {f.name for f in fields(ParsedSignerInfo)}
    made = ParsedSignerInfo(**{f.name: getattr(info, f.name) for f in fields(info)})
    assert (made, asdict(made), hash(repr(made))) == (info, asdict(info), hash(repr(info)))


def test_what_parse_deferred_is_read_once_and_its_error_raised_afresh() -> None:
    broken = _broken_cert_rep()
    message = parse_pki_message(broken)
    with count_paths() as counts:
        errors = []
        for _ in range(3):
            with pytest.raises(ScepError) as raised:
                message.findings  # noqa: B018 - read for its error
            errors.append(raised.value)
    assert counts.fast["signed_data"] + counts.asn1crypto["signed_data"] == 1
    # Each a copy: what one caller's boundary adds to a path is not seen by the next.
    assert len({id(error) for error in errors}) == 3
    assert len({(type(e), str(e), getattr(e, "path", None)) for e in errors}) == 1


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_bytes_like_input_is_refused_alike_on_both_paths(kind: type) -> None:
    """Only bytes are read by the fast path: a bytearray or memoryview gets the
    asn1crypto path's ParseError, not a TypeError from a table lookup."""
    data = kind((ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes())
    for parse in (_message_view, _signed_view):
        fast = _outcome(parse, data, DEFAULT_LIMITS)
        with asn1crypto_only():
            slow = _outcome(parse, data, DEFAULT_LIMITS)
        assert fast == slow
        assert isinstance(fast, tuple)
        assert fast[0] == "error"
        assert issubclass(fast[1], ScepError)


def test_a_deferred_error_raised_again_is_a_copy_of_any_error() -> None:
    """Every ScepError can be raised again from the cache, DecryptionError included
    (its __init__ takes no message back)."""
    from pyscep.errors import DecryptionError, LimitExceededError, ParseError
    from pyscep.messages.reply import copy_of

    for error in (DecryptionError(), ParseError("x", path=("a",)), LimitExceededError("y")):
        copied = copy_of(error)
        assert copied is not error
        assert (type(copied), str(copied), copied.__dict__) == (
            type(error),
            str(error),
            error.__dict__,
        )


def test_messages_pickle_with_what_parse_deferred() -> None:
    import pickle

    from pyscep.messages import verify_request

    data = (ROOT / "bench" / "fixtures" / "pkcsreq.der").read_bytes()
    message = parse_pki_message(data)
    copied = pickle.loads(pickle.dumps(message))  # noqa: S301 - our own bytes
    assert copied == message
    assert (copied.transaction_id, copied.findings) == (message.transaction_id, message.findings)
    verified = verify_request(message)
    assert pickle.loads(pickle.dumps(verified)).envelope == verified.envelope  # noqa: S301


def test_who_judges_whether_bytes_are_a_message_reads_them_whole() -> None:
    """The conformance probe and the demo's description say an unreadable reply is no
    pkiMessage, as when parse read everything: not an unsigned one, not a crash."""
    from datetime import datetime, timezone

    from pyscep.conformance.probe import Probe
    from pyscep.demo.story import describe_message

    broken = _broken_cert_rep()
    assert "unreadable" in describe_message(broken)
    probe = Probe(lambda request: (500, None, b""), "/scep", datetime.now(timezone.utc))
    reply = probe.read_unsolicited(broken)
    assert reply.message is None
    assert reply.problem is not None
    assert (probe.replies, probe.violations) == (0, {})


# --- limits ------------------------------------------------------------------


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_limits_at_the_edge_refuse_the_same(path: Path) -> None:
    data = path.read_bytes()
    for candidate in (data, _envelope_of(data)):
        if not candidate:
            continue
        try:
            scan = prescan(candidate)
        except ScepError:
            continue
        for limits in (
            Limits(max_elements=scan.elements),
            Limits(max_elements=scan.elements - 1),
            Limits(max_depth=scan.depth),
            Limits(max_depth=scan.depth - 1),
            Limits(max_size=len(candidate)),
            Limits(max_size=len(candidate) - 1),
        ):
            assert_same(candidate, limits)


# --- the reader's own pieces ------------------------------------------------------


@pytest.mark.parametrize(
    "dotted",
    ["1.2.840.113549.1.7.2", "2.16.840.1.101.3.4.2.1", "0.9.2342", "2.999.18446744073709551616"],
)
def test_oid_octets_and_decode_oid_agree_with_asn1crypto(dotted: str) -> None:
    from asn1crypto import core

    octets = oid_octets(dotted)
    assert bytes(core.ObjectIdentifier(dotted).contents) == octets
    assert decode_oid(octets) == dotted


@pytest.mark.parametrize(
    "dotted",
    ["1.2.840.113549.1.7.1", "1.2.840.113549.1.7.2", "1.2.840.113549.1.7.3",
     "1.2.840.113549.1.9.16.1.23", "1.2.840.113549.1.7.6", "2.999.1"],
)  # fmt: skip
def test_content_type_names_are_asn1crypto_names(dotted: str) -> None:
    from asn1crypto import cms

    assert content_type_name(oid_octets(dotted)) == str(cms.ContentType.map(dotted))


@pytest.mark.parametrize(
    "text", [b"490101000000Z", b"500101000000Z", b"991231235959Z", b"000229120000Z"]
)
def test_utc_time_agrees_with_asn1crypto(text: bytes) -> None:
    from asn1crypto import core

    assert utc_time(text) == core.UTCTime.load(b"\x17\x0d" + text).native


@pytest.mark.parametrize("text", [b"9912312359Z", b"991231235959+0100", b"991332000000Z"])
def test_utc_time_leaves_other_forms_to_asn1crypto(text: bytes) -> None:
    with pytest.raises(NotCanonicalError):
        utc_time(text)


# --- public keys -----------------------------------------------------------------


def _usual_keys() -> list[bytes]:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from pyscep import Certificate

    data = ROOT / "src" / "pyscep" / "testing" / "data"
    found = [
        Certificate.load((data / name).read_bytes()).public_key_der
        for name in ("ca.crt.der", "client.crt.der", "ec.crt.der")
    ]
    found.append(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    return found


def _public_keys() -> list[bytes]:
    """The usual keys and every key of the vectors' certificates (RSA 1024-4096, P-256...)."""
    found = _usual_keys()
    for path in VECTORS:
        try:
            message = parse_signed_data(path.read_bytes())
        except ScepError:
            continue
        found += [c.public_key_der for c in message.certificates]
    return sorted(set(found))


def _key_outcome(der: bytes) -> object:
    from pyscep.public_key import PublicKey

    try:
        return ("value", PublicKey.load(der))
    except ScepError as exc:
        return ("error", type(exc), str(exc))


def _key_outcomes(der: bytes) -> tuple[object, object]:
    # PublicKey reads through the switch (read_fast "public_key"), so the counts
    # prove which path read each key, as for every other reading.
    return _both_paths(_key_outcome, der, "public_key")


def test_public_keys_read_the_same() -> None:
    from pyscep import public_key

    keys = _public_keys()
    assert len(keys) >= 4
    for der in keys:
        fast, slow = _key_outcomes(der)
        assert fast == slow
    # The fast path reads the usual keys: RSA, P-256 and Ed25519.
    for der in _usual_keys():
        key = public_key.PublicKey.load(der)
        fields = (key.algorithm, key.bits, key.curve, key.public_exponent)
        assert tuple(public_key._read_canonical(der)) == fields


@MUTATIONS
@given(scep_st.mutated(st.sampled_from(_public_keys())))
def test_mutated_public_keys_read_the_same(der: bytes) -> None:
    fast, slow = _key_outcomes(der)
    assert fast == slow


def test_regression_a_one_octet_long_length_at_the_end_steps_aside() -> None:
    """Hypothesis's find: ``30 81`` with nothing after it read past the end of the input."""
    for data in (b"\x30\x81", b"\x30\x03\x30\x81", b"\x30\x82\x01", b"\x30\x83\x01\x00"):
        with pytest.raises(NotCanonicalError):
            Reader(data, DEFAULT_LIMITS).element(0, len(data), 0x30, 1)
        with pytest.raises(NotCanonicalError):
            Reader(data, DEFAULT_LIMITS).element(2, len(data), 0x30, 2)
        assert_same(data)


def test_regression_an_undecodable_fail_info_text_is_refused_where_asn1crypto_refuses_it() -> None:
    """Hypothesis's find: the fast path read a failInfoText that is not UTF-8, and the
    refusal then came from the attribute decoder with a shorter path."""
    from pyscep.enums import FailInfo
    from pyscep.messages import ReplyTo, build_cert_rep_failure
    from pyscep.testing import fixed_keys

    reply = build_cert_rep_failure(
        ReplyTo("TX", bytes(16)),
        FailInfo.BAD_REQUEST,
        "\u00e9\u00e9",
        signer=fixed_keys().ca_signer,
    )
    broken = reply.replace("\u00e9\u00e9".encode(), b"\x80\x80\x80\x80")
    assert broken != reply
    with pytest.raises(ScepError, match="ContentInfo/SignedData/signerInfos"):
        parse_pki_message(broken)
    assert_same(broken)


# --- certificates ------------------------------------------------------------------


def _certificates() -> list[bytes]:
    """The test CA, client and EC certificates, the benchmark's, and every certificate the
    vectors carry (RSA 1024-4096, P-256 to P-521, v1 and v3, several issuers)."""
    from pyscep import Certificate

    files = [
        *(ROOT / "src" / "pyscep" / "testing" / "data").glob("*.crt.der"),
        *(ROOT / "bench" / "fixtures").glob("*.crt.der"),
        *(ROOT / "tests" / "vectors").glob("**/*.crt"),
    ]
    found = [Certificate.load(path.read_bytes()).der for path in files]
    for path in VECTORS:
        try:
            found += [c.der for c in parse_signed_data(path.read_bytes()).certificates]
        except ScepError:
            continue
    return sorted(set(found))


def _certificate_view(der: bytes) -> tuple[object, ...]:
    """Everything a `Certificate` says of itself, or the error that loading it raises."""
    from pyscep import Certificate

    try:
        certificate = Certificate.load(der)
    except ScepError as exc:
        return ("error", type(exc), str(exc), getattr(exc, "path", None))
    view: list[object] = []
    for name in (
        "serial_number",
        "issuer_der",
        "subject_der",
        "public_key_der",
        "tbs_certificate_der",
        "signature_algorithm_der",
        "issuer",
        "subject",
        "self_signed",
        "public_key",
        "public_key_algorithm",
        "not_valid_after",
        "critical_extensions",
        "key_usage",
        "extended_key_usages",
        "subject_alt_names",
        "subject_key_identifier",
        "is_ca",
    ):
        try:
            view.append((name, getattr(certificate, name)))
        except ScepError as exc:
            view.append((name, "error", type(exc), str(exc)))
    return ("value", view)


def _certificate_views(der: bytes) -> tuple[tuple[object, ...], tuple[object, ...]]:
    return _both_paths(_certificate_view, der, "certificate")


def test_certificates_read_the_same() -> None:
    from pyscep._certificate_reader import read_certificate_outline

    corpus = _certificates()
    assert len(corpus) >= 8
    outlined = 0
    for der in corpus:
        fast, slow = _certificate_views(der)
        assert fast == slow
        outlined += read_certificate_outline(der) is not None
    # The fast path outlines the usual certificates (at least the test and bench ones).
    assert outlined >= 6


def test_the_outline_is_where_asn1crypto_finds_the_fields() -> None:
    from asn1crypto import core as asn1_core
    from asn1crypto import x509

    from pyscep._certificate_reader import read_certificate_outline

    for der in _certificates():
        outline = read_certificate_outline(der)
        if outline is None:
            continue
        parsed = x509.Certificate.load(der)
        tbs = parsed["tbs_certificate"]
        assert der[slice(*outline.tbs)] == tbs.dump()
        assert der[slice(*outline.issuer)] == tbs["issuer"].dump()
        assert der[slice(*outline.subject)] == tbs["subject"].dump()
        assert der[slice(*outline.public_key)] == tbs["subject_public_key_info"].dump()
        assert outline.serial_number == tbs["serial_number"].native
        assert outline.key_algorithm == parsed.public_key.algorithm
        extensions = tbs["extensions"]
        if outline.extensions is None:
            assert isinstance(extensions, asn1_core.Void)
        else:
            assert der[slice(*outline.extensions)] == extensions.contents


def _rebuilt(der: bytes, edit: Callable[[object], None]) -> bytes:
    """``der`` with ``edit`` applied to asn1crypto's reading of it, re-encoded."""
    from asn1crypto import x509

    parsed = x509.Certificate.load(der)
    edit(parsed)
    return bytes(parsed.dump(force=True))


def test_unusual_certificates_read_the_same() -> None:
    from asn1crypto import x509

    from pyscep._certificate_reader import read_certificate_outline

    ca = (ROOT / "src" / "pyscep" / "testing" / "data" / "ca.crt.der").read_bytes()

    def tlv(tag: int, contents: bytes) -> bytes:
        assert len(contents) < 0x10000
        return bytes([tag, 0x82]) + len(contents).to_bytes(2, "big") + contents

    def attribute(oid: str, tag: int, value: bytes) -> bytes:
        return tlv(0x30, tlv(0x06, oid_octets(oid)) + tlv(tag, value))

    def subject(name_der: bytes) -> Callable[[object], None]:
        def edit(parsed: object) -> None:
            assert isinstance(parsed, x509.Certificate)
            parsed["tbs_certificate"]["subject"] = x509.Name.load(name_der)

        return edit

    pair = attribute("2.5.4.3", 0x0C, b"x") + attribute("2.5.4.11", 0x0C, b"y")
    eighty = tlv(0x30, tlv(0x31, pair) * 40)
    bmp = tlv(0x30, tlv(0x31, attribute("2.5.4.3", 0x1E, "bmp".encode("utf-16-be"))))

    def version_one(parsed: object) -> None:
        assert isinstance(parsed, x509.Certificate)
        parsed["tbs_certificate"]["version"] = "v1"
        parsed["tbs_certificate"]["extensions"] = None

    # Over MAX_NAME_ATTRIBUTES: not outlined, and asn1crypto's path refuses it.
    crowded = _rebuilt(ca, subject(eighty))
    assert read_certificate_outline(crowded) is None
    fast, slow = _certificate_views(crowded)
    assert fast == slow
    assert fast[0] == "error"
    # A BMPString subject and a v1 certificate (no version, no extensions) are
    # outlined: name values are decoded on first use on either path.
    for der in (_rebuilt(ca, subject(bmp)), _rebuilt(ca, version_one)):
        assert read_certificate_outline(der) is not None
        fast, slow = _certificate_views(der)
        assert fast == slow
        assert fast[0] == "value"


@MUTATIONS
@given(scep_st.mutated(st.sampled_from(_certificates())))
def test_mutated_certificates_read_the_same(der: bytes) -> None:
    fast, slow = _certificate_views(der)
    assert fast == slow


@MUTATIONS
@given(
    st.sampled_from(_certificates()),
    st.integers(0, 400),
    st.sampled_from([0x00, 0x01, 0x02, 0x05, 0x0C, 0x13, 0x17, 0x30, 0x31, 0x80, 0xA0, 0xA3]),
)
def test_certificates_with_a_mutated_header_byte_read_the_same(
    der: bytes, position: int, value: int
) -> None:
    """One byte of the first 400 (tags and lengths of the TBSCertificate fields) set."""
    data = bytearray(der)
    data[min(position, len(data) - 1)] = value
    fast, slow = _certificate_views(bytes(data))
    assert fast == slow


def test_regression_a_name_value_of_an_unknown_type_is_shown_in_hex() -> None:
    """Hypothesis's find: an issuer attribute whose OID lost its last arcs (``2.5``) has a
    value asn1crypto cannot read as text; its human-friendly form formatted the bytes
    with str() (a BytesWarning under ``python -bb``). RFC 4514 shows such a value as hex."""
    from pyscep import Certificate

    ca = (ROOT / "src" / "pyscep" / "testing" / "data" / "ca.crt.der").read_bytes()
    common_name = b"\x06\x03\x55\x04\x03"
    assert ca.count(common_name) == 2  # issuer and subject of the self-signed CA
    at = ca.index(common_name)
    # 06 03 55 04 03 13 n <text>  ->  06 01 55, then 04 n+2 (13 n <text>): an OCTET STRING.
    text_length = ca[at + 6]
    broken = ca[:at] + b"\x06\x01\x55\x04" + bytes([text_length + 2]) + ca[at + 5 :]
    certificate = Certificate.load(broken)
    value = broken[at + 3 : at + 7 + text_length]
    assert certificate.issuer.startswith(f"2.5: #{value.hex()}")
    assert "pyscep" in certificate.subject
    assert "#" not in certificate.subject
    fast, slow = _certificate_views(broken)
    assert fast == slow


# --- certification requests -----------------------------------------------------------


def _vector_requests() -> list[bytes]:
    """The CSR inside every PKCSReq and RenewalReq vector (sscep, strongSwan with its
    UTF8String template name, micromdm, certmonger), decrypted with the vectors' CA key."""
    import json

    from pyscep import LEGACY, get_backend, load_decrypter
    from pyscep.cms.enveloped import decrypt_envelope

    vectors = ROOT / "tests" / "vectors"
    manifest = json.loads((vectors / "manifest.json").read_text())
    ca = (vectors / manifest["ca"]["certificate"]).read_bytes()
    decrypter = load_decrypter((vectors / manifest["ca"]["key"]).read_bytes(), ca)
    found = []
    for entry in manifest["entries"]:
        if entry.get("messageType") not in ("17", "19"):
            continue
        envelope = parse_pki_message((vectors / entry["file"]).read_bytes()).envelope
        assert envelope is not None
        plaintext, _, _ = decrypt_envelope(
            envelope, decrypter, backend=get_backend(), algorithms=LEGACY
        )
        found.append(plaintext)
    return found


def _built_requests() -> list[bytes]:
    """pyscep's and cryptography's requests: RSA and EC keys, PrintableString and
    UTF8String challenges, none, subjectAltNames, keyUsage, basicConstraints, a BMPString
    and a UTF8String template name, several extensionRequest values."""
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import AttributeOID, NameOID

    import pyscep
    from pyscep.messages import build_csr
    from pyscep.testing import fixed_keys

    data = ROOT / "src" / "pyscep" / "testing" / "data"
    rsa = pyscep.load_private_key(fixed_keys().client_key)
    ec = pyscep.load_private_key((data / "ec.key.der").read_bytes())
    template = "1.3.6.1.4.1.311.20.2"
    found = [
        build_csr(rsa, "CN=plain").der,
        build_csr(rsa, "CN=a,O=b,C=DE", challenge_password="Simple 123").der,
        build_csr(rsa, "CN=u", challenge_password="caf\u00e9 \u2603").der,
        build_csr(ec, "CN=ec", challenge_password="x", subject_alt_names=["dns_name:h.test"]).der,
        build_csr(
            rsa,
            "CN=t",
            challenge_password="p",
            subject_alt_names=["dns_name:a.example", "ip_address:192.0.2.1"],
            extensions=[
                (template, False, b"\x1e\x00\x49\x00\x50"),
                ("2.5.29.15", True, b"\x03\x02\x05\xa0"),
            ],
        ).der,
        build_csr(rsa, "CN=s", extensions=[(template, False, b"\x0c\x05IPSec")]).der,
        (ROOT / "bench" / "fixtures" / "client.csr.der").read_bytes(),
    ]
    key = serialization.load_der_private_key(fixed_keys().client_key, None)
    request = (
        cx509.CertificateSigningRequestBuilder()
        .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "crypto")]))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            cx509.ExtendedKeyUsage([cx509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b"crypto-challenge")
        .add_attribute(AttributeOID.UNSTRUCTURED_NAME, b"unstructured")
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    found.append(request.public_bytes(serialization.Encoding.DER))
    return found


def _requests() -> list[bytes]:
    return sorted(set(_vector_requests() + _built_requests()))


def _request_outcome(der: bytes) -> object:
    from pyscep.messages import CertificationRequest

    try:
        request = CertificationRequest.load(der)
    except ScepError as exc:
        return ("error", type(exc), str(exc), exc.fail_info, getattr(exc, "path", None))
    try:
        subject: object = request.subject
    except ScepError as exc:
        subject = ("error", type(exc), str(exc))
    return ("value", request, subject)


def _request_outcomes(der: bytes) -> tuple[object, object]:
    return _both_paths(_request_outcome, der, "request")


def test_requests_read_the_same() -> None:
    from pyscep.messages._csr_reader import read_request

    corpus = _requests()
    assert len(corpus) >= 20
    read_fast = 0
    for der in corpus:
        fast, slow = _request_outcomes(der)
        assert fast == slow
        try:
            read_request(der)
        except NotCanonicalError:
            continue
        read_fast += 1
    # The fast path reads the usual requests; the unstructuredName one is left to asn1crypto.
    assert read_fast >= len(corpus) - 2


@MUTATIONS
@given(scep_st.mutated(st.sampled_from(_requests())))
def test_mutated_requests_read_the_same_csr(der: bytes) -> None:
    fast, slow = _request_outcomes(der)
    assert fast == slow


@MUTATIONS
@given(
    st.sampled_from(_requests()),
    st.integers(0, 1200),
    st.sampled_from([0x00, 0x01, 0x02, 0x04, 0x0C, 0x13, 0x1E, 0x30, 0x31, 0x80, 0xA0, 0xFF]),
)
def test_requests_with_a_mutated_byte_read_the_same(der: bytes, position: int, value: int) -> None:
    data = bytearray(der)
    data[position % len(data)] = value
    fast, slow = _request_outcomes(bytes(data))
    assert fast == slow


def test_regression_an_extension_asn1crypto_cannot_show_is_kept_raw() -> None:
    """Hypothesis's find: a subjectAltName whose OID lost an octet (``0.0.29.17``) is an
    untyped extension whose SEQUENCE holds a ``[7]`` element; asn1crypto reads that as
    an ObjectDescriptor, which has no ``native``, and its AttributeError escaped
    `CertificationRequest.load`. The extension is kept raw, with a finding, on both paths."""
    import pyscep
    from pyscep.findings import FindingCode
    from pyscep.messages import CertificationRequest, build_csr
    from pyscep.testing import fixed_keys

    key = pyscep.load_private_key(fixed_keys().client_key)
    der = build_csr(key, "CN=t", subject_alt_names=["ip_address:192.0.2.1"]).der
    san = b"\x06\x03\x55\x1d\x11"
    assert der.count(san) == 1
    broken = der.replace(san, b"\x06\x03\x00\x1d\x11")
    request = CertificationRequest.load(broken)
    kept = [e for e in request.requested_extensions if e["id"] == "0.0.29.17"]
    assert kept == [{"id": "0.0.29.17", "critical": False, "value": kept[0]["value"]}]
    assert "raw_der" in kept[0]["value"]
    assert FindingCode.MISTYPED_VALUE in [f.code for f in request.findings]
    fast, slow = _request_outcomes(broken)
    assert fast == slow


def _extension_lists() -> list[bytes]:
    """The Extensions contents of every certificate of the corpus that has some."""
    from asn1crypto import x509

    found = []
    for der in _certificates():
        try:
            extensions = x509.Certificate.load(der)["tbs_certificate"]["extensions"]
            if extensions.contents:
                found.append(bytes(extensions.contents))
        except ValueError:
            continue
    return found


def _extensions_outcome(read: Callable[[bytes], object], contents: bytes) -> object:
    try:
        return ("value", read(contents))
    except ScepError as exc:
        return ("error", type(exc), str(exc), getattr(exc, "path", None))


@MUTATIONS
@given(scep_st.mutated(st.sampled_from(_extension_lists())))
def test_extensions_of_the_usual_shape_read_as_the_general_reader_reads_them(
    contents: bytes,
) -> None:
    from pyscep._extensions import (
        _read_canonical_extensions,
        _read_general_extensions,
        read_extensions,
    )

    canonical = _read_canonical_extensions(contents)
    general = _extensions_outcome(_read_general_extensions, contents)
    if canonical is not None:
        assert ("value", canonical) == general
    assert _extensions_outcome(read_extensions, contents) == general


def test_the_usual_extensions_are_read_in_place() -> None:
    from pyscep._extensions import _read_canonical_extensions

    lists = _extension_lists()
    assert len(lists) >= 5
    assert all(_read_canonical_extensions(contents) is not None for contents in lists)


def test_extension_names_are_asn1cryptos() -> None:
    """The table that names an extension by its OID's DER gives what loading it gives,
    and an OID it does not hold is named by asn1crypto (dotted), as before the table."""
    from asn1crypto import core as asn1_core
    from asn1crypto import x509

    from pyscep._extensions import _EXTENSION_NAMES, read_extensions

    assert len(_EXTENSION_NAMES) == len(x509.ExtensionId._map)
    for oid_der, name in _EXTENSION_NAMES.items():
        assert x509.ExtensionId.load(oid_der, strict=True).native == name
    flag = asn1_core.Boolean(True).dump()
    value = asn1_core.OctetString(b"\x05\x00").dump()

    def extension(oid_der: bytes) -> bytes:
        return bytes(asn1_core.Sequence(contents=oid_der + flag + value).dump())

    known = asn1_core.ObjectIdentifier("2.5.29.35").dump()
    unknown = asn1_core.ObjectIdentifier("1.3.6.1.4.1.99999.1").dump()
    read = read_extensions(extension(known) + extension(unknown))
    assert [(e.name, e.critical) for e in read] == [
        ("authority_key_identifier", True),
        ("1.3.6.1.4.1.99999.1", True),
    ]
    # An encoding the table does not hold goes to asn1crypto, which names it as before.
    odd = b"\x06\x03\x2a\x80\x01"
    assert read_extensions(extension(odd))[0].name == x509.ExtensionId.load(odd).native
