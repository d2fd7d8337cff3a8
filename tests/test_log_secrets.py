"""Proof that the log file never holds a token or a secret, whatever the live path writes to it.

Each test configures the real log (``configure_logging(level=DEBUG)`` into the test's folder), turns
on azure-core's network trace for every pipeline (``NetworkTraceLoggingPolicy`` with
``logging_enable``: every request's headers, ``Authorization`` included *unredacted*, and every body
that is not streamed, at DEBUG: the worst a user or a developer could switch on), runs the real live
path against the ARM emulator, then reads every log file back:

- it is not empty, holds lines from fcdesk and from the Azure SDK, and shows that the secret-bearing
  parts were logged (``'Authorization': '***'``, ``'client_secret': '***'``), so the test could fail;
- neither the token, nor the secret, nor any ``eyJ…`` JWT, nor ``Bearer <something>`` is in it.

Sign-in with a token (``FCDESK_ACCESS_TOKEN``) runs a capture and one write (the Defender for AI
plan), headless and through the window. Sign-in with a service principal secret goes through the real
``ClientSecretCredential`` against a loopback Entra ID token endpoint (the ARM emulator has none): a
wrong secret first (Entra ID's AADSTS7000215 answer, logged by azure-identity), then the right one
stored in the keyring by ``store_sp_secret``, then a capture. Nothing here calls ``register_secret``:
the patterns alone must hold.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from fcdesk.actions import Actions
from fcdesk.azure.clouds import Cloud, custom_cloud
from fcdesk.azure.contract import TOKEN_ENV, AuthMethod, CaptureOptions, SignInOptions
from fcdesk.azure.errors import SignInError
from fcdesk.azure.session import AzureSession
from fcdesk.logsetup import LOG_FILE_NAME, configure_logging, log_file
from fcdesk.store.audit import AuditLog
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario, run_async
from tests.helpers.live import go_live, live_window
from tests.test_arm_emulator_security import subs_by_tier
from tests.test_logsetup import LINE, restore_logging, sp_secret  # noqa: F401 - restore_logging: a fixture

ALICE = "alice@contoso.example"
CLIENT_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def throttle_once() -> Faults:
    """One throttled read: fcdesk's own retry logic then logs (``fcdesk.azure._http``, DEBUG). A new
    rule each time: a rule counts what it fired."""
    return Faults(throttle=[Rule(path="/deployments", method="GET", times=1, retry_after_ms=50)])


window = pytest.fixture(name="window")(live_window)


@pytest.fixture
def log_folder(tmp_path: Path, restore_logging: None) -> Path:  # noqa: F811 - the imported fixture
    folder = tmp_path / "logs"
    assert configure_logging(log_dir=folder, level=logging.DEBUG) == folder / LOG_FILE_NAME
    return folder


@pytest.fixture
def wire_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every azure-core pipeline (ARM clients and azure-identity's) traces requests and responses."""
    from azure.core.pipeline.policies import NetworkTraceLoggingPolicy

    original = NetworkTraceLoggingPolicy.__init__

    def traced(self: NetworkTraceLoggingPolicy, logging_enable: bool = False, **kwargs: Any) -> None:
        original(self, logging_enable=True, **kwargs)

    monkeypatch.setattr(NetworkTraceLoggingPolicy, "__init__", traced)


def read_logs(folder: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    files = sorted(folder.glob(f"{LOG_FILE_NAME}*"))
    assert files and log_file() == folder / LOG_FILE_NAME
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def assert_clean(text: str, *secrets: str) -> None:
    """The log holds no secret, and was worth checking (fcdesk and SDK lines, the traced headers)."""
    for secret in secrets:
        assert secret and secret not in text
        for part in secret.split("."):  # not even one segment of a JWT
            assert len(part) < 8 or part not in text
    assert "eyJ" not in text
    assert re.findall(r"Bearer\s+(?!\*\*\*)\S+", text) == []
    loggers = {m.group("logger") for m in re.compile(LINE.pattern, re.MULTILINE).finditer(text)}
    assert any(name.startswith("fcdesk.") for name in loggers), sorted(loggers)
    assert any(name.startswith("azure.") for name in loggers), sorted(loggers)
    assert "Request headers:" in text and "'Authorization': '***'" in text  # the trace really ran


# ----------------------------------------------------------------------------- token sign-in


def test_token_sign_in_capture_and_a_write_leave_no_token_in_the_log(
    log_folder: Path, wire_trace: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = Scenario.demo(scale=1)
    sub = subs_by_tier(scenario)["Free"]

    async def go() -> tuple[str, int, list[str]]:
        with ArmEmulator(scenario, faults=throttle_once()) as emu:
            token = emu.mint_token(principal=ALICE)
            monkeypatch.setenv(TOKEN_ENV, token)
            session = AzureSession()
            try:
                cloud = custom_cloud(emu.url, ca_file=emu.ca_file)
                identity = await session.sign_in(SignInOptions(AuthMethod.TOKEN, cloud))
                result = await session.capture(CaptureOptions(cloud=cloud))
                actions = Actions(session, AuditLog(), principal=identity.principal, cloud=cloud)
                try:
                    await actions.set_ai_plan(sub, await actions.read_ai_plan(sub))
                finally:
                    await actions.close()
            finally:
                await session.close()
            return token, len(result.records), [e.method for e in emu.requests if e.method == "PUT"]

    token, records, puts = run_async(go())
    assert records > 0 and puts == ["PUT"]  # the capture and the write really happened
    text = read_logs(log_folder)
    assert_clean(text, token)
    assert "retrying GET" in text  # fcdesk's own DEBUG line (the throttled read)


def test_the_window_signed_in_with_a_token_leaves_no_token_in_the_log(
    log_folder: Path, wire_trace: None, window, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch, principal=ALICE)  # the sign-in dialog, then a refresh
        token = os.environ[TOKEN_ENV]
    assert window.context.info.live
    text = read_logs(log_folder)
    assert_clean(text, token)
    assert "fcdesk.views.refresh" in text


# -------------------------------------------------------------------------- service principal


class TokenEndpoint:
    """A loopback HTTPS Entra ID token endpoint (``POST /{tenant}/oauth2/v2.0/token``) for the
    client-credentials grant: the right secret gets a token the ARM emulator accepts, a wrong one gets
    Entra ID's 401 ``invalid_client`` (AADSTS7000215). ``forms`` keeps the bodies it received."""

    def __init__(self, emulator: ArmEmulator, client_id: str, secret: str) -> None:
        self.emulator = emulator
        self.client_id = client_id
        self.secret = secret
        self.forms: list[dict[str, str]] = []
        self.authority = ""
        self.ca_file = ""
        self._folder = tempfile.TemporaryDirectory(prefix="aad-stub-")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TokenEndpoint:
        import trustme

        ca = trustme.CA(organization_name="fcdesk test Entra ID (throw-away)")
        self.ca_file = os.path.join(self._folder.name, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(ctx)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ctx, ready), name="aad-stub", daemon=True)
        self._thread.start()
        assert ready.wait(30) and self.authority, "the token endpoint did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(30)
        self._folder.cleanup()

    def _run(self, ctx: ssl.SSLContext, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        loop.run_until_complete(site.start())
        self.authority = f"127.0.0.1:{self._runner.addresses[0][1]}"
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.forms.append(form)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.secret:
            return web.json_response(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                    "being sent in the request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{form.get('client_id')}'.",
                    "error_codes": [7000215],
                },
                status=401,
            )
        token = self.emulator.mint_token(principal=self.client_id)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )


@pytest.fixture
def trusts_test_entra_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``ClientSecretCredential`` trusts the loopback endpoint's CA (as ``Cloud.ca_file`` lets ARM
    trust the emulator's); set ``["ca_file"]`` before signing in."""
    import azure.identity.aio as identity

    trust: dict[str, str] = {}
    original = identity.ClientSecretCredential

    def credential(*args: Any, **kwargs: Any) -> Any:
        return original(*args, connection_verify=trust["ca_file"], **kwargs)

    monkeypatch.setattr(identity, "ClientSecretCredential", functools.wraps(original)(credential))
    yield trust


def test_service_principal_secrets_never_reach_the_log(
    log_folder: Path, wire_trace: None, trusts_test_entra_id: dict[str, str]
) -> None:
    from fcdesk.azure.auth import store_sp_secret

    scenario = Scenario.demo(scale=1)
    secret, wrong = sp_secret(), sp_secret()

    async def go() -> tuple[list[dict[str, str]], str, int, str]:
        with ArmEmulator(scenario, faults=throttle_once()) as emu:
            with TokenEndpoint(emu, CLIENT_ID, secret) as entra:
                trusts_test_entra_id["ca_file"] = entra.ca_file
                cloud: Cloud = custom_cloud(emu.url, ca_file=emu.ca_file, authority_host=entra.authority)
                options = SignInOptions(
                    AuthMethod.SP,
                    cloud,
                    tenant_id=scenario.tenant_id,
                    client_id=CLIENT_ID,
                    persistent_cache=False,
                )
                typo = AzureSession(secret=wrong)  # typed in the dialog, not remembered
                try:
                    await typo.sign_in(options)
                except SignInError as exc:
                    refused = exc.user_message
                else:
                    raise AssertionError("a wrong secret signed in")
                finally:
                    await typo.close()
                await store_sp_secret(scenario.tenant_id, CLIENT_ID, secret)  # "Remember secret"
                session = AzureSession()
                try:
                    identity = await session.sign_in(options)
                    result = await session.capture(CaptureOptions(cloud=cloud))
                finally:
                    await session.close()
                return entra.forms, refused, len(result.records), identity.principal

    forms, refused, records, principal = run_async(go())
    # Both secrets really went over the wire, and the right one signed in and captured.
    assert [f["client_secret"] for f in forms] == [wrong, secret]
    assert "AADSTS7000215" in refused and principal == CLIENT_ID and records > 0
    text = read_logs(log_folder)
    assert_clean(text, secret, wrong)
    assert text.count("'client_secret': '***'") >= 2  # both token requests' bodies were logged, masked
    assert "AADSTS7000215" in text  # azure-identity's own error line
    assert "retrying GET" in text  # fcdesk's own DEBUG line
    assert '"access_token": "***"' in text  # the token response too
