"""Intune's SCEP validation and notifications (issue 23, part 3): the messages as values,
the client against a local fake of Entra ID, Graph and Intune (tests/support/fake_intune.py,
over TLS), and ``pyscep serve --challenge-mode intune`` end to end."""

from __future__ import annotations

import base64
import json
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes

import pyscep
from pyscep import PKIStatus
from pyscep.messages import (
    build_csr,
    build_pkcs_req,
    open_cert_rep,
    self_signed_signer,
)
from pyscep.protocol.intune import (
    INTUNE_SCOPE,
    AccessToken,
    ClientSecret,
    IntuneError,
    IntuneSettings,
    read_discovery,
    read_outcome,
    read_token,
    token_request,
    validation_request,
)
from pyscep.server import ReferenceServer, ServeConfigError, ServeOptions, check_options
from pyscep.server.intune import (
    IntuneChallenge,
    IntuneService,
    certificate_credential,
    federated_credential,
    secret_credential,
    urllib_transport,
)
from pyscep.sid import SID_URI_PREFIX
from pyscep.testing import make_identity
from tests.support.fake_intune import CLIENT_ID, FEDERATED, SECRET, TENANT, FakeIntune, running

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
SETTINGS = IntuneSettings(tenant=TENANT, client_id=CLIENT_ID)


# --- the messages --------------------------------------------------------------------


def test_a_token_request_is_a_client_credentials_grant() -> None:
    request = token_request(SETTINGS, ClientSecret(SECRET), INTUNE_SCOPE)
    assert (request.method, request.url) == (
        "POST",
        f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
    )
    form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "scope": "https://api.manage.microsoft.com//.default",
        "client_secret": SECRET,
    }
    assert SECRET not in repr(ClientSecret(SECRET))


def test_what_entra_id_and_intune_answer_is_read_strictly() -> None:
    token = read_token(200, b'{"access_token": "abc", "expires_in": 3600}', now=NOW)
    assert token.usable(NOW + timedelta(minutes=54))
    assert not token.usable(NOW + timedelta(minutes=55))  # a margin before it expires
    for status, body, retryable in [
        (503, b"", True),
        (429, b"{}", True),
        (400, b'{"error": "invalid_client"}', False),
        (200, b"not json", False),
        (200, b'{"expires_in": 3600}', False),
        (200, b'{"access_token": "a", "expires_in": Infinity}', False),
        (200, b'{"access_token": "a", "expires_in": true}', False),
        (200, b'{"access_token": "a", "expires_in": 1e999}', False),
    ]:
        with pytest.raises(IntuneError) as caught:
            read_token(status, body, now=NOW)
        assert caught.value.retryable is retryable
    graph = {"value": [{"serviceName": "ScepRequestValidationFEService", "uri": "https://x/y"}]}
    assert read_discovery(200, json.dumps(graph).encode()) == "https://x/y"  # older Graph
    plain = {"value": [{"providerName": "ScepRequestValidationFEService", "uri": "http://x"}]}
    with pytest.raises(IntuneError, match="not at https"):
        read_discovery(200, json.dumps(plain).encode())
    assert read_outcome(200, b'{"code": "Success", "errorDescription": ""}').succeeded
    refused = read_outcome(200, b'{"code": "SubjectNameMismatch", "errorDescription": "no"}')
    assert (refused.succeeded, refused.code) == (False, "SubjectNameMismatch")
    with pytest.raises(IntuneError, match="no code"):
        read_outcome(200, b"{}")


def test_a_validation_request_has_the_published_shape() -> None:
    token = AccessToken("t0k", NOW + timedelta(hours=1))
    request = validation_request(
        "https://fef.example/TrafficGateway/PassThroughRoutingService/StatelessScepRequestValidationFEService",
        token,
        transaction_id="TX-1",
        csr_der=b"\x30\x00",
        caller_info="pyscep serve",
        activity_id="2a1f7f3e-0000-4000-8000-000000000001",
    )
    assert request.url.endswith("/ScepActions/validateRequest")
    headers = dict(request.headers)
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["api-version"] == "2018-02-20"
    assert json.loads(request.body) == {
        "request": {
            "transactionId": "TX-1",
            "certificateRequest": "MAA=",
            "callerInfo": "pyscep serve",
        }
    }
    assert "t0k" not in repr(token)


def test_settings_refuse_plain_http_and_empty_names() -> None:
    with pytest.raises(pyscep.LocalProtocolError, match="over https"):
        IntuneSettings(tenant=TENANT, client_id=CLIENT_ID, authority="http://login.example")
    with pytest.raises(pyscep.LocalProtocolError, match="cannot be empty"):
        IntuneSettings(tenant=" ", client_id=CLIENT_ID)


# --- the client, against the fake ------------------------------------------------------


def _service(fake: FakeIntune, ca_file: Path, credential: Any, **kwargs: Any) -> IntuneService:
    settings = IntuneSettings(
        tenant=TENANT, client_id=CLIENT_ID, authority=fake.base, graph_url=fake.base
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    return IntuneService(settings, credential, transport=urllib_transport(context), **kwargs)


def _secret_file(directory: Path) -> Path:
    path = directory / "intune.secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


@pytest.mark.external
def test_validations_discover_the_service_and_reuse_tokens(tmp_path: Path) -> None:
    with running(tmp_path) as (fake, ca_file):
        fake.known = {"TX-1", "TX-2"}
        service = _service(fake, ca_file, secret_credential(_secret_file(tmp_path)))
        assert service.validate("TX-1", b"\x30\x00").succeeded
        assert service.validate("TX-2", b"\x30\x00").succeeded
        refused = service.validate("TX-3", b"\x30\x00")
        assert (refused.succeeded, refused.code) == (False, "ChallengeExpired")
        # One Graph token, one Intune token: both kept while they last.
        assert [token.split("-")[0] for token in fake.tokens] == ["graph", "intune"]
        assert [v["transactionId"] for v in fake.validations] == ["TX-1", "TX-2", "TX-3"]
        assert {h["UserAgent"] for h in fake.headers_seen} == {"pyscep"}


@pytest.mark.external
def test_what_may_pass_on_a_second_try_is_retried_with_backoff(tmp_path: Path) -> None:
    slept: list[float] = []
    with running(tmp_path) as (fake, ca_file):
        fake.known = {"TX-1"}
        fake.unavailable = 2
        service = _service(
            fake, ca_file, secret_credential(_secret_file(tmp_path)), sleep=slept.append
        )
        assert service.validate("TX-1", b"\x30\x00").succeeded
        assert slept == [0.5, 1.0]
        fake.unavailable = 10
        with pytest.raises(IntuneError, match="HTTP 503"):
            service.validate("TX-1", b"\x30\x00")
        assert slept == [0.5, 1.0, 0.5, 1.0]  # three tries, then the error


@pytest.mark.external
def test_wrong_credentials_are_not_retried(tmp_path: Path) -> None:
    slept: list[float] = []
    with running(tmp_path) as (fake, ca_file):
        service = _service(
            fake, ca_file, lambda now: ClientSecret("not-the-secret"), sleep=slept.append
        )
        with pytest.raises(IntuneError, match="HTTP 401 bad secret"):
            service.validate("TX-1", b"\x30\x00")
        assert slept == []


@pytest.mark.external
def test_a_certificate_assertion_and_a_federated_token_need_no_secret(tmp_path: Path) -> None:
    application = make_identity("Intune connector application", now=datetime.now(timezone.utc))
    fake = FakeIntune(application_certificate=application.certificate.to_cryptography())
    fake.known = {"TX-1"}
    with running(tmp_path, fake) as (fake, ca_file):
        settings = IntuneSettings(
            tenant=TENANT, client_id=CLIENT_ID, authority=fake.base, graph_url=fake.base
        )
        signed = _service(fake, ca_file, certificate_credential(settings, application.signer))
        assert signed.validate("TX-1", b"\x30\x00").succeeded
        token_file = tmp_path / "azure-identity-token"
        token_file.write_text(FEDERATED)
        federated = _service(fake, ca_file, federated_credential(token_file))
        assert federated.validate("TX-1", b"\x30\x00").succeeded
        # An assertion signed by another key is refused by the fake, as by Entra ID.
        stranger = make_identity("someone else", now=datetime.now(timezone.utc))
        forged = _service(fake, ca_file, certificate_credential(settings, stranger.signer))
        with pytest.raises(IntuneError, match="HTTP 401 assertion"):
            forged.validate("TX-1", b"\x30\x00")


# --- pyscep serve --challenge-mode intune ----------------------------------------------


def _intune_server(tmp_path: Path, fake: FakeIntune, ca_file: Path) -> ReferenceServer:
    token_file = tmp_path / "federated-token"
    token_file.write_text(FEDERATED)
    options = ServeOptions(
        tmp_path / "state",
        challenge_mode="intune",
        intune_tenant=TENANT,
        intune_client_id=CLIENT_ID,
        intune_federated_token_file=token_file,
        intune_authority=fake.base,
        intune_graph_url=fake.base,
        intune_ca_bundle=ca_file,
    )
    check_options(options)
    return ReferenceServer(options)


def _enroll(server: ReferenceServer, names: tuple[str, ...] = ()) -> tuple[Any, Any, Any]:
    """(the reply, its certificates, the request) of one enrollment as Intune's devices
    make it (a challenge Intune made, which the fake does not check: Intune does)."""
    now = datetime.now(timezone.utc)
    key = pyscep.load_private_key(make_identity("device", now=now).key_der)
    signer = self_signed_signer(key, "CN=DESKTOP-7Q2L0K1", now=now)
    csr = build_csr(
        key,
        "CN=DESKTOP-7Q2L0K1",
        challenge_password="intune-made-challenge",
        subject_alt_names=names,
    )
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle(
        "POST", "/certsrv/mscep/mscep.dll", "operation=PKIOperation", built.der
    )
    reply, content = open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )
    return reply, content, (built, signer, csr)


@pytest.mark.external
def test_serve_issues_what_intune_validates_and_tells_it(tmp_path: Path) -> None:
    with running(tmp_path) as (fake, ca_file):
        server = _intune_server(tmp_path, fake, ca_file)
        # The device asks for an administrator's SID too: Intune's yes vouches for none.
        victim = f"uniform_resource_identifier:{SID_URI_PREFIX}S-1-5-21-1-2-3-500"
        reply, _, _ = _enroll(server, (victim,))
        assert reply.pki_status is PKIStatus.FAILURE  # not a transaction Intune made
        assert "Intune refused the request: ChallengeExpired" in (reply.fail_info_text or "")
        assert (fake.successes, fake.failures) == ([], [])  # Intune said no itself
        fake.known = _Everything()
        reply, content, (built, _, csr) = _enroll(server, (victim,))
        assert reply.pki_status is PKIStatus.SUCCESS, reply
        issued = content.certificates[0]
        assert issued.sids == ()
        (notification,) = fake.successes
        parsed = issued.to_cryptography()
        assert notification == {
            "transactionId": built.transaction_id,
            "certificateRequest": base64.b64encode(csr.der).decode(),
            "certificateThumbprint": parsed.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
            "certificateSerialNumber": format(parsed.serial_number, "X"),
            "certificateExpirationDateUtc": parsed.not_valid_after_utc.strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
            "issuingCertificateAuthority": issued.issuer,
            "callerInfo": "pyscep serve",
        }


class _Everything(set[str]):
    """Every transactionID is one Intune made."""

    def __contains__(self, item: object) -> bool:
        return True


@pytest.mark.external
def test_a_certificate_intune_was_not_told_of_is_never_delivered(tmp_path: Path) -> None:
    with running(tmp_path) as (fake, ca_file):
        server = _intune_server(tmp_path, fake, ca_file)
        fake.known = _Everything()
        fake.notifications_fail = True
        reply, content, (built, _, _) = _enroll(server)
        assert reply.pki_status is PKIStatus.FAILURE
        assert "Intune could not be told" in (reply.fail_info_text or "")
        assert content is None
        assert fake.successes == []
        (failure,) = fake.failures  # told instead that there is none
        assert failure["transactionId"] == built.transaction_id
        assert failure["hResult"] == 0x80004005
        # Once Intune can be told, the device's next enrollment gets its certificate.
        fake.notifications_fail = False
        reply, content, _ = _enroll(server)
        assert reply.pki_status is PKIStatus.SUCCESS
        assert len(fake.successes) == 1


@pytest.mark.external
def test_a_redirect_is_not_followed_and_the_token_stays_home(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    with running(tmp_path) as (fake, ca_file), running(tmp_path / "elsewhere") as (other, _):
        fake.redirect_to = f"{other.base}/scep/ScepActions/validateRequest"
        service = _service(fake, ca_file, secret_credential(_secret_file(tmp_path)))
        with pytest.raises(IntuneError, match="a redirect"):
            service.validate("TX-1", b"\x30\x00")
        assert other.validations == []
        assert other.headers_seen == []


def test_an_approval_intune_must_hear_of_needs_the_intune_settings(tmp_path: Path) -> None:
    from pyscep.server.app import IssuanceTerms

    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge="s3cret-challenge"))
    terms = IssuanceTerms(30, intune=True)
    assert IssuanceTerms.from_context(terms.to_context(), 365).intune
    transaction = _pending_transaction(server, terms)
    with pytest.raises(ServeConfigError, match="Intune validated"):
        server.approve(transaction, now=datetime.now(timezone.utc))


def _pending_transaction(server: ReferenceServer, terms: Any) -> str:
    """A PKCSReq left PENDING for the operator on ``terms``, as an Intune server holds one."""
    from pyscep.protocol.server import EnrollmentRequested

    now = datetime.now(timezone.utc)
    key = pyscep.load_private_key(make_identity("held", now=now).key_der)
    signer = self_signed_signer(key, "CN=held", now=now)
    csr = build_csr(key, "CN=held", challenge_password="s3cret-challenge")
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    event = server.responder.receive("POST", "/scep", "operation=PKIOperation", built.der, now=now)
    assert isinstance(event, EnrollmentRequested)
    server.responder.pending(event, now=now, context=terms.to_context())
    return built.transaction_id


def test_intune_mode_needs_a_tenant_and_one_credential(tmp_path: Path) -> None:
    base = ServeOptions(tmp_path, challenge_mode="intune")
    with pytest.raises(ServeConfigError, match="--intune-tenant and --intune-client-id"):
        check_options(base)
    named = ServeOptions(
        tmp_path, challenge_mode="intune", intune_tenant=TENANT, intune_client_id=CLIENT_ID
    )
    with pytest.raises(ServeConfigError, match="one credential"):
        check_options(named)
    both = ServeOptions(
        tmp_path,
        challenge_mode="intune",
        intune_tenant=TENANT,
        intune_client_id=CLIENT_ID,
        intune_secret_file=tmp_path / "s",
        intune_federated_token_file=tmp_path / "t",
    )
    with pytest.raises(ServeConfigError, match="one credential"):
        check_options(both)


def test_an_empty_federated_token_is_waited_for_then_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("")
    slept: list[float] = []
    service = IntuneService(
        SETTINGS,
        federated_credential(token_file),
        transport=lambda request: (500, b""),
        sleep=slept.append,
    )
    with pytest.raises(IntuneError, match="is empty"):
        service.validate("TX-1", b"\x30\x00")
    assert slept == [0.5, 1.0]  # the platform may be writing it: tried again, then no


def test_the_challenge_refuses_when_intune_cannot_be_asked() -> None:
    def unreachable(request: Any) -> tuple[int, bytes]:
        raise ConnectionError("connection refused")

    service = IntuneService(
        SETTINGS, lambda now: ClientSecret(SECRET), transport=unreachable, sleep=lambda s: None
    )
    csr = build_csr(
        pyscep.load_private_key(make_identity("d", now=NOW).key_der), "CN=d", challenge_password="x"
    )
    verdict = IntuneChallenge(service).check_transaction("x", csr, "TX-1")
    assert not verdict.accepted
    assert verdict.reason.startswith("Intune could not be asked: ")
    assert not IntuneChallenge(service).check("x", csr).accepted  # no transactionID, no ask
