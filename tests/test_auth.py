"""Credentials: the env token, the no-prompt-storm adapter, SP secrets in the keyring, clouds, caches.

The fakes here stand in for azure-identity's *sync credential objects* (a browser prompt cannot run
in a test), never for Azure's REST API; the live path itself is tested against the ARM emulator.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from fcdesk.azure import auth
from fcdesk.azure.auth import (
    EnvTokenCredential,
    SerializedCredential,
    forget_sp_secret,
    get_sp_secret,
    jwt_claims,
    make_credential,
    principal_from_claims,
    store_sp_secret,
)
from fcdesk.azure.clouds import CHINA, PUBLIC, USGOV
from fcdesk.azure.contract import KEYRING_SERVICE, TOKEN_ENV, AuthMethod, DeviceCode, SignInOptions
from fcdesk.azure.errors import SignInError
from tests.arm_emulator import run_async
from tests.helpers.in_memory_keyring import InMemoryKeyring

REPO = Path(__file__).resolve().parent.parent
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def jwt(**claims: Any) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.c2lnbmF0dXJl"


# ------------------------------------------------------------------------------------ env token


def test_env_token_reads_the_variable_and_its_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    exp = int(time.time()) + 1800
    monkeypatch.setenv(TOKEN_ENV, jwt(exp=exp, upn="dana@contoso.example"))
    token = run_async(EnvTokenCredential().get_token("https://management.azure.com/.default"))
    assert token.token.count(".") == 2 and token.expires_on == exp


def test_env_token_that_is_no_jwt_lives_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "Bearer opaque-token-value")
    token = run_async(EnvTokenCredential().get_token("scope"))
    assert token.token == "opaque-token-value"
    assert abs(token.expires_on - (time.time() + 3600)) < 60


def test_env_token_unset_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ClientAuthenticationError, match=f"{TOKEN_ENV} is not set"):
        run_async(EnvTokenCredential().get_token("scope"))
    monkeypatch.setenv(TOKEN_ENV, "   ")
    with pytest.raises(ClientAuthenticationError, match=f"{TOKEN_ENV} is not set"):
        run_async(EnvTokenCredential().get_token("scope"))


def test_env_token_is_cached_until_near_expiry_then_reread(monkeypatch: pytest.MonkeyPatch) -> None:
    credential = EnvTokenCredential()
    long_lived = jwt(exp=int(time.time()) + 3600)
    monkeypatch.setenv(TOKEN_ENV, long_lived)

    async def go() -> list[str]:
        seen = [(await credential.get_token("s")).token]
        monkeypatch.setenv(TOKEN_ENV, jwt(exp=int(time.time()) + 2, n=1))
        seen.append((await credential.get_token("s")).token)  # still the cached, long-lived one
        credential.invalidate()  # ARM said it expired
        seen.append((await credential.get_token("s")).token)  # the 2-second token: near expiry at once...
        await asyncio.sleep(1.1)
        monkeypatch.setenv(TOKEN_ENV, jwt(exp=int(time.time()) + 3600, n=2))
        seen.append((await credential.get_token("s")).token)  # ...so the refreshed value is read
        return seen

    seen = run_async(go())
    assert seen[0] == seen[1] == long_lived
    assert jwt_claims(seen[2])["n"] == 1 and jwt_claims(seen[3])["n"] == 2
    assert credential.calls == 3


def test_make_credential_token_method() -> None:
    credential = run_async(make_credential(SignInOptions(AuthMethod.TOKEN)))
    assert isinstance(credential, EnvTokenCredential) and TOKEN_ENV in credential.token_cache


# --------------------------------------------------------------------------- serialising adapter


class FakeSyncCredential:
    """Stands in for azure-identity's sync InteractiveBrowserCredential/DeviceCodeCredential."""

    def __init__(self, lifetime: float = 3600.0, delay: float = 0.2) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.calls = 0
        self.threads: set[int] = set()
        self.closed = False
        self._guard = threading.Lock()
        self.overlaps = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        if not self._guard.acquire(blocking=False):
            self.overlaps += 1
            self._guard.acquire()
        try:
            self.calls += 1
            self.threads.add(threading.get_ident())
            time.sleep(self.delay)  # the user clicking through the prompt
            return AccessToken(f"token-{self.calls}", int(time.time() + self.lifetime))
        finally:
            self._guard.release()

    def close(self) -> None:
        self.closed = True


def test_forty_concurrent_requests_cause_one_prompt() -> None:
    inner = FakeSyncCredential()
    credential = SerializedCredential(inner)

    async def go() -> tuple[list[str], int]:
        loop_thread = threading.get_ident()
        tokens = await asyncio.gather(
            *(credential.get_token("https://management.azure.com/.default") for _ in range(40))
        )
        return [t.token for t in tokens], loop_thread

    tokens, loop_thread = run_async(go())
    assert inner.calls == 1 and credential.calls == 1 and inner.overlaps == 0
    assert set(tokens) == {"token-1"}
    assert loop_thread not in inner.threads  # the blocking prompt ran in a worker thread


def test_a_failed_prompt_is_not_repeated_for_the_requests_that_waited_for_it() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class ClosedBrowser(FakeSyncCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            self.calls += 1
            time.sleep(0.1)
            raise ClientAuthenticationError("The user closed the browser window.")

    inner = ClosedBrowser()
    credential = SerializedCredential(inner)

    async def go() -> list[BaseException | Any]:
        together = await asyncio.gather(
            *(credential.get_token("s") for _ in range(40)), return_exceptions=True
        )
        later = await asyncio.gather(credential.get_token("s"), return_exceptions=True)  # a new attempt
        return [*together, *later]

    outcomes = run_async(go())
    assert all(isinstance(o, ClientAuthenticationError) for o in outcomes)
    assert inner.calls == 2


def test_adapter_refreshes_near_expiry_and_after_invalidate() -> None:
    inner = FakeSyncCredential(lifetime=1.0, delay=0.0)
    credential = SerializedCredential(inner)

    async def go() -> list[str]:
        first = (await credential.get_token("s")).token
        again = (await credential.get_token("s")).token  # fresh: cached
        await asyncio.sleep(0.6)  # less than half of its lifetime left: renewed
        renewed = (await credential.get_token("s")).token
        credential.invalidate(before=time.time() - 60)  # tokens fetched since then are kept
        kept = (await credential.get_token("s")).token
        credential.invalidate()
        after_invalidate = (await credential.get_token("s")).token
        other_scope = (await credential.get_token("other")).token
        return [first, again, renewed, kept, after_invalidate, other_scope]

    assert run_async(go()) == ["token-1", "token-1", "token-2", "token-2", "token-3", "token-4"]


def test_adapter_serialises_an_async_credential_too_and_closes_it() -> None:
    class FakeAsyncCli:
        def __init__(self) -> None:
            self.running = 0
            self.most = 0
            self.calls = 0
            self.closed = False

        async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            from azure.core.credentials import AccessToken

            self.running += 1
            self.most = max(self.most, self.running)
            self.calls += 1
            await asyncio.sleep(0.05)
            self.running -= 1
            return AccessToken("cli-token", int(time.time() + 3600))

        async def close(self) -> None:
            self.closed = True

    inner = FakeAsyncCli()

    async def go() -> None:
        async with SerializedCredential(inner) as credential:
            await asyncio.gather(
                *(credential.get_token("a") for _ in range(10)),
                *(credential.get_token("b") for _ in range(10)),
            )

    run_async(go())
    assert inner.most == 1 and inner.calls == 2 and inner.closed  # one `az` at a time, one per scope


def test_claims_challenges_bypass_the_cache() -> None:
    inner = FakeSyncCredential(delay=0.0)
    credential = SerializedCredential(inner)

    async def go() -> None:
        await credential.get_token("s")
        await credential.get_token("s", claims='{"access_token":{"nbf":{"essential":true}}}')

    run_async(go())
    assert inner.calls == 2


# ----------------------------------------------------------------------------- device code


def test_device_code_prompt_is_marshalled_to_the_loop() -> None:
    async def go() -> tuple[list[DeviceCode], set[int], int]:
        got: list[DeviceCode] = []
        threads: set[int] = set()
        done = asyncio.Event()

        def on_code(code: DeviceCode) -> None:
            got.append(code)
            threads.add(threading.get_ident())
            done.set()

        credential = await make_credential(
            SignInOptions(AuthMethod.DEVICE_CODE, tenant_id=TENANT, persistent_cache=False),
            on_device_code=on_code,
        )
        prompt = credential.inner._prompt_callback  # what azure-identity calls on its worker thread
        worker = threading.Thread(
            target=prompt, args=("https://microsoft.com/devicelogin", "ABCD-1234", None)
        )
        worker.start()
        await asyncio.wait_for(done.wait(), 5)
        worker.join()
        await credential.close()
        return got, threads, threading.get_ident()

    got, threads, loop_thread = run_async(go())
    assert got == [
        DeviceCode(
            "https://microsoft.com/devicelogin",
            "ABCD-1234",
            "To sign in, open https://microsoft.com/devicelogin in a browser and enter the code ABCD-1234.",
        )
    ]
    assert threads == {loop_thread}


# ----------------------------------------------------------------------------- clouds & methods


@pytest.mark.parametrize("cloud", [PUBLIC, USGOV, CHINA], ids=lambda c: c.name)
def test_interactive_credentials_use_the_clouds_authority(cloud: Any) -> None:
    for method in (AuthMethod.BROWSER, AuthMethod.DEVICE_CODE):
        credential = run_async(
            make_credential(SignInOptions(method, cloud=cloud, tenant_id=TENANT, persistent_cache=False))
        )
        assert credential.inner._authority == f"https://{cloud.authority_host}"
        assert credential.inner._tenant_id == TENANT
        assert credential.inner._additionally_allowed_tenants == []
        run_async(credential.close())


def test_other_tenants_only_when_opted_in() -> None:
    credential = run_async(
        make_credential(
            SignInOptions(AuthMethod.BROWSER, tenant_id=TENANT, persistent_cache=False),
            additionally_allowed_tenants=["*"],
        )
    )
    assert credential.inner._additionally_allowed_tenants == ["*"]


def test_cli_and_msi_credentials() -> None:
    cli = run_async(make_credential(SignInOptions(AuthMethod.CLI, tenant_id=TENANT)))
    assert type(cli.inner).__name__ == "AzureCliCredential" and cli.inner.tenant_id == TENANT
    assert "Azure CLI" in cli.token_cache
    msi = run_async(
        make_credential(SignInOptions(AuthMethod.MSI, client_id="11111111-2222-3333-4444-555555555555"))
    )
    assert type(msi.inner).__name__ == "ManagedIdentityCredential"
    for credential in (cli, msi):
        run_async(credential.close())


def test_bad_tenant_id_is_a_sign_in_error() -> None:
    with pytest.raises(SignInError):
        run_async(
            make_credential(
                SignInOptions(AuthMethod.BROWSER, tenant_id="not a tenant!", persistent_cache=False)
            )
        )


def test_persistent_cache_is_encrypted_or_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        auth, "token_cache_status", lambda: (False, "in memory only (no encrypted store on this system)")
    )
    plain = run_async(make_credential(SignInOptions(AuthMethod.BROWSER, tenant_id=TENANT)))
    assert plain.inner._cache_options is None and plain.token_cache.startswith("in memory only")
    monkeypatch.setattr(auth, "token_cache_status", lambda: (True, "encrypted on disk (libsecret)"))
    encrypted = run_async(make_credential(SignInOptions(AuthMethod.DEVICE_CODE, tenant_id=TENANT)))
    options = encrypted.inner._cache_options
    assert options.name == "fcdesk" and options.allow_unencrypted_storage is False
    assert encrypted.token_cache == "encrypted on disk (libsecret)"
    off = run_async(
        make_credential(SignInOptions(AuthMethod.BROWSER, tenant_id=TENANT, persistent_cache=False))
    )
    assert off.inner._cache_options is None and off.token_cache == "in memory only"


def test_token_cache_status_says_where_tokens_live() -> None:
    auth.token_cache_status.cache_clear()
    try:
        encrypted, text = auth.token_cache_status()
    finally:
        auth.token_cache_status.cache_clear()
    assert text.startswith("encrypted on disk (") if encrypted else text.startswith("in memory only (")


# ------------------------------------------------------------------------------ service principals


def test_sp_secret_round_trip_through_the_keyring(
    in_memory_keyring: InMemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = "0c7b3f2e-1111-2222-3333-444455556666"

    async def go() -> None:
        assert await get_sp_secret(TENANT, client) is None
        await store_sp_secret(TENANT, client, "s3cr3t-value")
        assert in_memory_keyring.passwords[(KEYRING_SERVICE, f"sp:{TENANT}:{client}")] == "s3cr3t-value"
        assert await get_sp_secret(TENANT, client) == "s3cr3t-value"
        credential = await make_credential(
            SignInOptions(AuthMethod.SP, tenant_id=TENANT, client_id=client, persistent_cache=False)
        )
        assert type(credential.inner).__name__ == "ClientSecretCredential"
        assert credential.description == f"service principal {client}"
        await credential.close()
        assert await forget_sp_secret(TENANT, client) is True
        assert await forget_sp_secret(TENANT, client) is False
        with pytest.raises(SignInError, match="No client secret is stored"):
            await make_credential(SignInOptions(AuthMethod.SP, tenant_id=TENANT, client_id=client))

    run_async(go())
    assert "s3cr3t-value" not in caplog.text


def test_sp_secret_given_by_the_caller_wins(in_memory_keyring: InMemoryKeyring) -> None:
    credential = run_async(
        make_credential(
            SignInOptions(
                AuthMethod.SP,
                tenant_id=TENANT,
                client_id="0c7b3f2e-1111-2222-3333-444455556666",
                persistent_cache=False,
            ),
            secret="from-env",
        )
    )
    assert type(credential.inner).__name__ == "ClientSecretCredential"
    assert in_memory_keyring.passwords == {}
    run_async(credential.close())


def test_sp_needs_tenant_client_and_an_existing_certificate(tmp_path: Path) -> None:
    with pytest.raises(SignInError, match="tenant id and a client id"):
        run_async(make_credential(SignInOptions(AuthMethod.SP, client_id="x")))
    with pytest.raises(SignInError, match="does not exist"):
        run_async(
            make_credential(
                SignInOptions(
                    AuthMethod.SP,
                    tenant_id=TENANT,
                    client_id="c",
                    certificate_path=str(tmp_path / "missing.pem"),
                )
            )
        )


# ------------------------------------------------------------------------------------- claims


def test_claims_and_principal() -> None:
    assert jwt_claims("not-a-jwt") is None and jwt_claims("a.b.c") is None
    claims = jwt_claims(jwt(upn="dana@contoso.example", tid=TENANT))
    assert claims == {"upn": "dana@contoso.example", "tid": TENANT}
    assert principal_from_claims(claims) == "dana@contoso.example"
    assert principal_from_claims({"unique_name": "live.com#x@y"}) == "live.com#x@y"
    assert principal_from_claims({"appid": "app-id", "oid": "o"}) == "app-id"
    assert principal_from_claims({}) is None and principal_from_claims(None) is None


def test_session_sign_in_without_a_token_is_a_sign_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from fcdesk.azure.session import AzureSession

    monkeypatch.delenv(TOKEN_ENV, raising=False)

    async def go() -> None:
        session = AzureSession()
        try:
            await session.sign_in(SignInOptions(AuthMethod.TOKEN))
        finally:
            await session.close()

    with pytest.raises(SignInError, match=f"{TOKEN_ENV} is not set") as caught:
        run_async(go())
    assert caught.value.user_message == str(caught.value)


def test_importing_the_session_does_not_load_the_sdk() -> None:
    code = (
        "import sys, fcdesk.azure.session, fcdesk.azure.capture, fcdesk.azure.auth, fcdesk.capture_cli;"
        "loaded = [m for m in sys.modules if m == 'azure' or m.startswith(('azure.', 'aiohttp', 'msal'))];"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_keyring_secrets_never_reach_executor_debug_logs(qtbot, qloop, caplog) -> None:
    """qasync's thread executor logs each call's arguments and result at DEBUG: the secret must not
    be in either, even with that logger turned all the way up."""
    import asyncio
    import logging

    from fcdesk.azure.auth import get_sp_secret, store_sp_secret

    secret = "s3cr3t-value-for-the-log-test"
    logging.getLogger("qasync").setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        async def round_trip() -> str | None:
            await store_sp_secret("tenant-x", "client-y", secret)
            return await get_sp_secret("tenant-x", "client-y")

        task = asyncio.ensure_future(round_trip(), loop=qloop)
        qtbot.waitUntil(task.done, timeout=5000)
        assert task.result() == secret
        assert any("qasync" in r.name for r in caplog.records), "the executor did not log at all: test is void"
        assert secret not in caplog.text
    finally:
        logging.getLogger("qasync").setLevel(logging.NOTSET)
