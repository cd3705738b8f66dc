"""The one parser switch (`pyscep._parser_switch`): it holds every reader, it counts
which path ran, it stays in its context, and no public value says which parser ran."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
from pathlib import Path

import pytest

from pyscep import Certificate, ScepError
from pyscep._certificate_reader import read_certificate_outline
from pyscep._der_reader import NotCanonicalError, Reader
from pyscep._parser_switch import (
    READERS,
    ParserCounts,
    asn1crypto_only,
    count_paths,
    fast_path_on,
    read_fast,
)
from pyscep.cms.enveloped import parse_enveloped_data
from pyscep.cms.signed import parse_signed_data, parse_signed_envelope
from pyscep.cms.signed._reader import read_signed_data
from pyscep.limits import DEFAULT_LIMITS
from pyscep.messages import CertificationRequest, parse_pki_message
from pyscep.messages._csr_reader import read_request
from pyscep.public_key import _read_canonical

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "bench" / "fixtures"
# The conformance vectors, and the shared copy when this tree sits next to one.
VECTOR_FILES = sorted(
    {
        *(ROOT / "tests" / "vectors").glob("**/*.der"),
        *(ROOT.parent / "shared" / "vectors").glob("**/*.der"),
    }
)


def _request() -> bytes:
    return (FIXTURES / "pkcsreq.der").read_bytes()


# --- the switch holds every reader ---------------------------------------------------


def test_the_switch_holds_every_reader() -> None:
    """Each fast reader reads the benchmark request as shipped and refuses to start
    while the switch is off, even when called directly (without `read_fast`)."""
    data = _request()
    signed = parse_signed_data(data)
    certificate = signed.certificates[0].der
    key = signed.certificates[0].public_key_der
    csr = (FIXTURES / "client.csr.der").read_bytes()
    assert read_signed_data(Reader(data, DEFAULT_LIMITS)) == signed
    assert read_certificate_outline(certificate) is not None
    assert _read_canonical(key)[0] == "rsa"
    subject = read_request(csr).subject
    assert subject[0] < subject[1]
    with asn1crypto_only():
        assert not fast_path_on()
        with pytest.raises(NotCanonicalError):
            Reader(data, DEFAULT_LIMITS)
        assert read_certificate_outline(certificate) is None
        with pytest.raises(NotCanonicalError):
            _read_canonical(key)
        with pytest.raises(NotCanonicalError):
            read_request(csr)
    assert fast_path_on()


def test_each_reading_is_counted_on_the_path_it_took() -> None:
    data = _request()
    csr = (FIXTURES / "client.csr.der").read_bytes()
    with count_paths() as shipped:
        message = parse_pki_message(data)
        # The head alone is read: the path is known, and counted, once the whole is.
        assert shipped.fast["signed_data"] == 0
        assert message.findings == ()
        CertificationRequest.load(csr)
    with asn1crypto_only(), count_paths() as forced:
        forced_message = parse_pki_message(data)
        assert forced_message == message
        assert forced_message.findings == ()
        CertificationRequest.load(csr)
    # The pkcsPKIEnvelope is read in the SignedData's pass on the fast path.
    readings = ("signed_data", "enveloped_data", "scep_attributes", "request")
    for reading in readings:
        assert (shipped.fast[reading], shipped.asn1crypto[reading]) == (1, 0), reading
        assert (forced.fast[reading], forced.asn1crypto[reading]) == (0, 1), reading
    assert shipped.fast["certificate"] >= 1
    assert forced.asn1crypto["certificate"] == shipped.fast["certificate"]
    assert forced.total("fast") == 0
    assert set(shipped.fast) | set(forced.asn1crypto) <= set(READERS)


def test_a_reader_that_steps_aside_is_counted_on_asn1crypto() -> None:
    def step_aside() -> int:
        raise NotCanonicalError

    def refuse() -> int:
        raise ScepError("the fast path's own refusal")

    with count_paths() as counts:
        assert read_fast("request", lambda: 7) == 7
        assert read_fast("request", step_aside) is None
        with pytest.raises(ScepError):
            read_fast("request", refuse)
        with asn1crypto_only():
            assert read_fast("request", lambda: 7) is None
    assert counts.fast == {"request": 2}
    assert counts.asn1crypto == {"request": 2}


def test_each_certificate_and_key_of_a_message_is_read_once() -> None:
    """Across parse, verify and decrypt, each certificate and each key is read once per
    message; a client does not read again the CA certificate it holds, nor that
    certificate's key and extensions once it has read them (issue 25)."""
    from pyscep import load_private_key
    from pyscep.crypto import KeyPair
    from pyscep.messages import decrypt_pki_message, verify_cert_rep, verify_request

    def loaded(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    ca, client = Certificate.load(loaded("ca.crt.der")), Certificate.load(loaded("client.crt.der"))
    ca_pair = KeyPair(load_private_key(loaded("ca.key.der")), ca)
    client_pair = KeyPair(load_private_key(loaded("client.key.der")), client)
    with count_paths() as server:
        request = verify_request(parse_pki_message(_request()))
        decrypt_pki_message(request, ca_pair)
    # The signer's certificate and its key, the request and its key: once each.
    assert server.fast["certificate"] == 1
    assert server.fast["request"] == 1
    assert server.fast["public_key"] == 2
    assert server.total("asn1crypto") == 0
    # A server that holds the signer's certificate (a renewal's) does not read it again.
    with count_paths() as holding:
        message = parse_pki_message(_request())
        verify_request(message, certificates=[client])
    assert message.certificates[0] is client
    assert (holding.fast["certificate"], holding.total("asn1crypto")) == (0, 0)
    counts = []
    for _ in range(2):
        with count_paths() as client_side:
            reply = parse_pki_message(loaded("certrep.der"))
            decrypt_pki_message(verify_cert_rep(reply, ca_certificates=[ca]), client_pair)
        assert reply.certificates[0] is ca
        counts.append(client_side)
    # Only the issued certificate is read; the CA's key and keyUsage on first use only.
    assert [c.fast["certificate"] for c in counts] == [1, 1]
    assert [c.fast["public_key"] for c in counts] == [1, 0]
    assert [c.fast["extensions"] for c in counts] == [1, 0]
    assert sum(c.total("asn1crypto") for c in counts) == 0


def test_a_parse_that_ignores_the_switch_is_caught() -> None:
    """What the counts are for: a parse that decides by itself (here, in a context of its
    own, as a reader bound before the switch existed would) gives the same values on
    both "paths", so comparing values alone passes; the counts show the fast path ran."""

    def ignores_the_switch(data: bytes) -> object:
        return contextvars.Context().run(parse_signed_data, data)

    def counted_run(data: bytes) -> tuple[object, ParserCounts]:
        with asn1crypto_only(), count_paths() as forced:
            value = ignores_the_switch(data)
        return value, forced

    data = _request()
    value, forced = counted_run(data)
    assert value == parse_signed_data(data)  # values alone: no difference
    assert forced.asn1crypto["signed_data"] == 0  # counts: the asn1crypto path never ran
    # The honest parse is counted where it ran.
    with asn1crypto_only(), count_paths() as honest:
        parse_signed_data(data)
    assert honest.asn1crypto["signed_data"] == 1


# --- the switch stays in its context ---------------------------------------------------


def test_the_switch_stays_in_its_thread_and_its_context() -> None:
    seen: dict[str, bool] = {}

    def look(name: str) -> None:
        seen[name] = fast_path_on()

    with asn1crypto_only():
        thread = threading.Thread(target=look, args=("thread",))
        thread.start()
        thread.join()
        contextvars.copy_context().run(look, "copied context")

        async def task() -> None:
            look("task")

        asyncio.run(task())
        with asn1crypto_only():
            look("nested")
        look("after nested")
    look("after")
    assert seen == {
        "thread": True,  # a new thread starts from an empty context
        "copied context": False,
        "task": False,  # asyncio copies the current context into its tasks
        "nested": False,
        "after nested": False,
        "after": True,
    }


def test_counting_blocks_count_apart() -> None:
    data = _request()
    with count_paths() as outer:
        parse_signed_data(data)
        with count_paths() as inner:
            parse_signed_data(data)
    assert inner.fast["signed_data"] == 1
    assert outer.fast["signed_data"] == 1


# --- no public value says which parser ran ----------------------------------------------

# Deprecated aliases of the private, parser-dependent fields (warned about).
_DEPRECATED = {"scan", "envelope", "signed_attrs_sorted", "attribute_contents"}


def public_view(value: object) -> object:
    """Every public field and property of ``value``, recursively (dataclasses, the
    message views, tuples); a value that is neither is itself."""
    if isinstance(value, (tuple, list)):
        return tuple(public_view(item) for item in value)
    if isinstance(value, Certificate):
        return value.der
    names: list[str] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names += [f.name for f in dataclasses.fields(value) if not f.name.startswith("_")]
    module = type(value).__module__
    if module.startswith("pyscep.cms") or module.startswith("pyscep.messages.pkimessage"):
        names += [
            name
            for name in dir(type(value))
            if not name.startswith("_")
            and isinstance(getattr(type(value), name), property)
            and not (module.startswith("pyscep.cms") and name in _DEPRECATED)
        ]
    if not names:
        return value
    view = []
    for name in names:
        try:
            view.append((name, public_view(getattr(value, name))))
        except ScepError as exc:
            view.append((name, ("error", type(exc), str(exc))))
    return (type(value), tuple(view))


def _parsed(data: bytes) -> object:
    views: list[object] = []
    for parse in (parse_signed_data, parse_pki_message, parse_enveloped_data):
        try:
            views.append(public_view(parse(data)))
        except ScepError as exc:
            views.append(("error", type(exc), str(exc)))
    try:
        envelope: object = parse_signed_envelope(parse_signed_data(data))
    except ScepError as exc:
        envelope = ("error", type(exc), str(exc))
    views.append(public_view(envelope))
    return views


def test_public_values_are_the_same_whichever_parser_read_them() -> None:
    assert len(VECTOR_FILES) >= 20
    fast_read = 0
    for path in VECTOR_FILES:
        data = path.read_bytes()
        with count_paths() as shipped:
            fast = _parsed(data)
        with asn1crypto_only(), count_paths() as forced:
            slow = _parsed(data)
        assert forced.total("fast") == 0, path.name
        assert forced.asn1crypto["signed_data"] >= 2, path.name
        assert fast == slow, path.name
        fast_read += shipped.fast["signed_data"] > 0
    # Not a comparison of asn1crypto with itself: the fast path read most vectors.
    assert fast_read >= len(VECTOR_FILES) // 2


def test_the_view_sees_a_difference() -> None:
    """`public_view` is not blind: two messages differ in it."""
    request = parse_pki_message(_request())
    reply = parse_pki_message((FIXTURES / "certrep.der").read_bytes())
    assert public_view(request) != public_view(reply)
    signed = parse_signed_data(_request())
    fields = dict(public_view(signed)[1])  # type: ignore[index]
    assert fields["content"] == signed.content
    assert "_envelope" not in fields
    assert "_scan" not in fields


def test_the_parser_dependent_fields_are_deprecated_aliases() -> None:
    signed = parse_signed_data(_request())
    info = signed.signer_infos[0]
    with pytest.warns(DeprecationWarning, match="parse_signed_envelope"):
        assert signed.envelope is signed._envelope
    with pytest.warns(DeprecationWarning, match="ParsedSignedData.scan"):
        assert signed.scan is None  # the fast path read it: no pre-scan report
    with pytest.warns(DeprecationWarning, match="signed_attrs_in_der_order"):
        assert info.signed_attrs_sorted is True
    with pytest.warns(DeprecationWarning, match="attribute_contents"):
        assert info.attribute_contents is not None
    assert info.signed_attrs_in_der_order
