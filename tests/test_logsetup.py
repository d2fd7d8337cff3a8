"""``fcdesk.logsetup``: the rotating log file (place, permissions, format, rotation, levels, the
fallback when it cannot be written) and the redactor every line goes through.

The redactor is fed the strings the live path really produces: azure-core's request logs and network
trace, token responses, an MSAL request dump holding a client secret, ARM error bodies, SAS URLs,
connection strings, PEM keys, and tracebacks whose text holds a token.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import stat
import sys
import threading
import traceback
import uuid
from calendar import timegm
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcdesk import logsetup
from fcdesk.logsetup import (
    AZURE_HTTP_LOGGER,
    BACKUP_COUNT,
    LEVEL_ENV,
    LOG_FILE_NAME,
    MASK,
    MAX_BYTES,
    QASYNC_LOGGER,
    RedactingFormatter,
    configure_logging,
    log_file,
    redact,
    register_secret,
    unconfigure_logging,
)
from fcdesk.store import paths

POSIX = os.name == "posix"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<msg>.*)$"
)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def make_jwt(**claims: object) -> str:
    """A JWT shaped like Entra ID's (RS256 header, ARM audience, a signature of random bytes)."""
    header = _b64({"typ": "JWT", "alg": "RS256", "x5t": "kid-1", "kid": "kid-1"})
    claims = {"aud": "https://management.azure.com/", "tid": str(uuid.uuid4()), "exp": 1893456000, **claims}
    payload = _b64(claims)
    signature = base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def sp_secret() -> str:
    """What the portal hands out for a client secret: 40 characters with ``~`` ``.`` ``_`` ``-``."""
    return f"Q8v~{uuid.uuid4().hex[:12]}.{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Removes the handlers configure_logging installed and restores the levels it changed, so that
    the next tests (and pytest's own log capture) see the logging they expect."""
    root = logging.getLogger()
    names = (AZURE_HTTP_LOGGER, QASYNC_LOGGER)
    levels = {name: logging.getLogger(name).level for name in names}
    root_level = root.level
    try:
        yield
    finally:
        unconfigure_logging()
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def file_handlers() -> list[logging.handlers.RotatingFileHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, logging.handlers.RotatingFileHandler)]


def read_log(folder: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob(f"{LOG_FILE_NAME}*")))


# ------------------------------------------------------------------------------------ the file


def test_the_log_goes_to_the_data_folder_in_utc_lines_readable_by_the_owner_only(
    restore_logging: None, isolated_user_dirs: dict[str, Path]
) -> None:
    path = configure_logging()
    assert path == paths.log_dir() / LOG_FILE_NAME == isolated_user_dirs["data"] / "logs" / "fcdesk.log"
    assert log_file() == path
    logging.getLogger("fcdesk.test").info("hello %s", "world")
    logging.getLogger("fcdesk.test").debug("not at INFO")
    lines = read_log(path.parent).splitlines()
    assert len(lines) == 1
    match = LINE.match(lines[0])
    assert match is not None
    assert match.group("level", "logger", "msg") == ("INFO", "fcdesk.test", "hello world")
    if POSIX:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_time_is_utc_with_milliseconds() -> None:
    record = logging.LogRecord("fcdesk.x", logging.WARNING, __file__, 1, "message %d", (7,), None)
    record.created = timegm((2026, 11, 26, 8, 0, 0)) + 0.123
    record.msecs = 123.0
    assert RedactingFormatter().format(record) == "2026-11-26T08:00:00.123Z WARNING fcdesk.x: message 7"


def test_configuring_twice_keeps_one_handler_and_a_new_folder_moves_it(
    restore_logging: None, tmp_path: Path
) -> None:
    first = configure_logging(log_dir=tmp_path / "a")
    again = configure_logging(log_dir=tmp_path / "a", level="DEBUG")
    ours = file_handlers()
    assert first == again == tmp_path / "a" / LOG_FILE_NAME and len(ours) == 1
    assert logging.getLogger().level == logging.DEBUG
    moved = configure_logging(log_dir=tmp_path / "b")
    ours = file_handlers()
    assert moved == tmp_path / "b" / LOG_FILE_NAME == log_file() and len(ours) == 1
    assert ours[0].baseFilename == str(moved)


def test_console_copy_is_redacted_too(restore_logging: None, tmp_path: Path, capsys) -> None:
    token = make_jwt()
    configure_logging(log_dir=tmp_path, console=True)
    configure_logging(log_dir=tmp_path, console=True)  # still one console handler
    logging.getLogger("fcdesk.test").warning("token %s", token)
    err = capsys.readouterr().err
    assert err.count("WARNING fcdesk.test: token ***") == 1 and token not in err


def test_the_level_comes_from_the_argument_then_the_environment_then_info(
    restore_logging: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv(LEVEL_ENV, raising=False)
    configure_logging(log_dir=tmp_path)
    assert logging.getLogger().level == logging.INFO
    monkeypatch.setenv(LEVEL_ENV, "debug")
    configure_logging(log_dir=tmp_path)
    assert logging.getLogger().level == logging.DEBUG
    configure_logging(log_dir=tmp_path, level="warning")  # the argument wins
    assert logging.getLogger().level == logging.WARNING
    configure_logging(log_dir=tmp_path, level=logging.ERROR)
    assert logging.getLogger().level == logging.ERROR
    monkeypatch.setenv(LEVEL_ENV, "chatty")
    configure_logging(log_dir=tmp_path)
    assert logging.getLogger().level == logging.INFO
    assert "unknown log level 'chatty'" in capsys.readouterr().err


def test_noisy_loggers_are_kept_sane(restore_logging: None, tmp_path: Path) -> None:
    configure_logging(log_dir=tmp_path, level="INFO")
    assert logging.getLogger(AZURE_HTTP_LOGGER).getEffectiveLevel() == logging.WARNING
    assert logging.getLogger(QASYNC_LOGGER).getEffectiveLevel() == logging.INFO
    configure_logging(log_dir=tmp_path, level="DEBUG")
    assert logging.getLogger(AZURE_HTTP_LOGGER).getEffectiveLevel() == logging.DEBUG
    # qasync logs callback arguments at DEBUG: even a DEBUG log never has them
    assert logging.getLogger(QASYNC_LOGGER).getEffectiveLevel() == logging.INFO
    assert not logging.getLogger("qasync._QThreadWorker").isEnabledFor(logging.DEBUG)


def test_an_unusable_folder_means_no_file_and_a_warning_never_a_crash(
    restore_logging: None, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    assert configure_logging(log_dir=blocker / "logs") is None
    assert log_file() is None
    assert "cannot write the log file" in capsys.readouterr().err
    logging.getLogger("fcdesk.test").error("still fine")  # no handler error, nothing raised
    assert file_handlers() == []


def test_the_file_rotates_and_each_new_file_is_private(restore_logging: None, tmp_path: Path) -> None:
    path = configure_logging(log_dir=tmp_path)
    assert path is not None
    [handler] = file_handlers()
    assert (handler.maxBytes, handler.backupCount, handler.encoding) == (MAX_BYTES, BACKUP_COUNT, "utf-8")
    assert (MAX_BYTES, BACKUP_COUNT) == (2 * 1024 * 1024, 5)
    handler.maxBytes = 2_000  # rotate after a few lines instead of 2 MB
    for i in range(400):
        logging.getLogger("fcdesk.test").info("line %04d %s", i, "é" * 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [LOG_FILE_NAME, *(f"{LOG_FILE_NAME}.{n}" for n in range(1, BACKUP_COUNT + 1))]
    assert "line 0399" in path.read_text(encoding="utf-8")
    if POSIX:
        assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {0o600}


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_an_older_world_readable_log_is_made_private(restore_logging: None, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    old = tmp_path / LOG_FILE_NAME
    old.write_text("older line\n", encoding="utf-8")
    old.chmod(0o644)
    configure_logging(log_dir=tmp_path)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert old.read_text(encoding="utf-8").startswith("older line\n")  # appended to, not replaced


# ----------------------------------------------------------------------------- the redaction


def test_tracebacks_in_the_file_are_redacted(restore_logging: None, tmp_path: Path) -> None:
    token, secret = make_jwt(upn="alice@contoso.example"), sp_secret()
    configure_logging(log_dir=tmp_path)

    def send(headers: dict[str, str], body: str) -> None:
        raise RuntimeError(f"request failed: headers={headers!r} body={body!r}")

    try:
        send({"Authorization": f"Bearer {token}", "x-ms-client-request-id": "abc"}, f"client_secret={secret}")
    except RuntimeError:
        logging.getLogger("fcdesk.test").exception("sending failed")
    text = read_log(tmp_path)
    assert "Traceback (most recent call last)" in text and "RuntimeError: request failed" in text
    assert "'x-ms-client-request-id': 'abc'" in text  # the rest of the line is kept
    assert token not in text and secret not in text and "eyJ" not in text


def test_a_traceback_with_locals_holding_a_token_is_redacted() -> None:
    token = make_jwt()
    opaque = "opaque-" + uuid.uuid4().hex

    def authorize(headers: dict[str, str], refresh_token: str) -> None:
        access = {"token": refresh_token, "expires_on": 1893456000}  # noqa: F841 - shown by capture_locals
        raise PermissionError("401 ExpiredAuthenticationToken")

    try:
        authorize({"Authorization": f"Bearer {token}"}, opaque)
    except PermissionError as exc:
        tb = exc.__traceback__.tb_next  # from authorize() on: the locals of the code that failed
        text = "".join(traceback.TracebackException(type(exc), exc, tb, capture_locals=True).format())
    assert token in text and opaque in text  # the raw traceback really holds both
    clean = redact(text)
    assert token not in clean and opaque not in clean
    assert "PermissionError: 401 ExpiredAuthenticationToken" in clean and "'expires_on': 1893456000" in clean


JWT = make_jwt(upn="alice@contoso.example")
SECRET = sp_secret()
REALISTIC = [
    pytest.param(  # azure-core NetworkTraceLoggingPolicy (logging_enable=True): headers as they are sent
        "Request URL: 'https://management.azure.com/subscriptions?api-version=2022-12-01'\n"
        "Request method: 'GET'\nRequest headers:\n"
        "    'Accept': 'application/json'\n"
        "    'x-ms-client-request-id': '7a1d6a0e-0000-4000-8000-000000000000'\n"
        "    'User-Agent': 'fcdesk/1.0 azsdk-python-core/1.41.0 Python/3.11.7'\n"
        f"    'Authorization': 'Bearer {JWT}'\n"
        "This request has no body",
        [JWT],
        ["'User-Agent': 'fcdesk/1.0", "'Authorization': '***'", "api-version=2022-12-01"],
        id="azure-core network trace request",
    ),
    pytest.param(  # the token request of ClientSecretCredential, traced by the same policy
        "Request URL: 'https://login.microsoftonline.com/72f988bf/oauth2/v2.0/token'\n"
        "Request method: 'POST'\nRequest body:\n"
        f"client_id=0f1e2d3c&grant_type=client_credentials&client_info=1&client_secret={SECRET}"
        "&scope=https%3A%2F%2Fmanagement.azure.com%2F.default",
        [SECRET],
        ["client_id=0f1e2d3c", "client_secret=***&scope="],
        id="token request body",
    ),
    pytest.param(  # and its answer
        "Response status: 200\nResponse content:\n"
        f'{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{JWT}",'
        '"refresh_token":"0.AXEAv4j5cvGGr0GRqy180BHbR1","id_token":"opaque-id"}',
        [JWT, "0.AXEAv4j5cvGGr0GRqy180BHbR1", "opaque-id"],
        ['"token_type":"Bearer"', '"expires_in":3599', '"access_token":"***"'],
        id="token response JSON",
    ),
    pytest.param(  # MSAL's request dump (a Python dict repr) holding a client secret
        "msal.oauth2cli.oauth2: Token request data: {'client_id': '0f1e2d3c', 'client_secret': "
        f"'{SECRET}', 'grant_type': 'client_credentials', 'scope': 'https://management.azure.com/.default'}}",
        [SECRET],
        ["'client_id': '0f1e2d3c'", "'client_secret': '***'", "'grant_type': 'client_credentials'"],
        id="MSAL request dict",
    ),
    pytest.param(  # azure-identity configured from the environment, echoed by a misconfigured script
        f"AZURE_TENANT_ID=72f988bf AZURE_CLIENT_ID=0f1e2d3c AZURE_CLIENT_SECRET={SECRET}",
        [SECRET],
        ["AZURE_CLIENT_ID=0f1e2d3c", "AZURE_CLIENT_SECRET=***"],
        id="environment",
    ),
    pytest.param(  # an SDK call's kwargs, camelCase
        f'{{"tenantId": "72f988bf", "clientId": "0f1e2d3c", "clientSecret": "{SECRET}", '
        '"password": "hunter22!"}',
        [SECRET, "hunter22!"],
        ['"clientId": "0f1e2d3c"', '"clientSecret": "***"'],
        id="camelCase JSON",
    ),
    pytest.param(  # a header line in a raw HTTP dump (bytes repr) and a plain one
        "send: b'GET /subscriptions HTTP/1.1\\r\\nHost: management.azure.com\\r\\n"
        f"Authorization: Bearer {JWT}\\r\\nAccept: */*\\r\\n\\r\\n'\nProxy-Authorization: Basic dXNlcjpwYXNz",
        [JWT, "dXNlcjpwYXNz"],
        ["Host: management.azure.com\\r\\n", "\\r\\nAccept: */*"],
        id="raw HTTP",
    ),
    pytest.param(
        "x-ms-authorization-auxiliary: Bearer aux-token-one, Bearer aux-token-two\n"
        "x-ms-arm-signed-user-token: signed-user-value\nx-ms-request-id: 5d1c",
        ["aux-token-one", "aux-token-two", "signed-user-value"],
        ["x-ms-request-id: 5d1c"],
        id="x-ms token headers",
    ),
    pytest.param(  # Cognitive Services keys: header, listKeys answer, connection string
        "'api-key': 'c0ffee00c0ffee00c0ffee00c0ffee00'\n"
        '{"key1": "abcdef0123456789", "key2": "9876543210fedcba"}\n'
        "DefaultEndpointsProtocol=https;AccountName=fcdesk;AccountKey=bm90LWEtcmVhbC1rZXk=;EndpointSuffix=core",
        ["c0ffee00c0ffee00c0ffee00c0ffee00", "abcdef0123456789", "9876543210fedcba", "bm90LWEtcmVhbC1rZXk="],
        ["AccountName=fcdesk;", "EndpointSuffix=core"],
        id="keys",
    ),
    pytest.param(  # a SAS URL inside a nextLink-like JSON value
        '{"nextLink": "https://fcdesk.blob.core.windows.net/c/b.json?sv=2022-11-02&se=2026-11-27T08%3A00Z'
        '&sr=b&sp=r&sig=cmVhbGx5LXNlY3JldA%3D%3D"}',
        ["cmVhbGx5LXNlY3JldA%3D%3D", "2026-11-27T08%3A00Z"],
        ["sr=b&sp=r", "sig=***"],
        id="SAS",
    ),
    pytest.param(
        "loaded certificate:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "BKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
        ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7"],
        ["loaded certificate:", "MIIDdzCCAl+gAwIBAgIE"],  # a certificate is public
        id="PEM private key",
    ),
    pytest.param(
        f"token in a URL: https://example.test/cb#access_token={JWT}&token_type=Bearer and Bearer%20{JWT}",
        [JWT],
        ["token_type=Bearer"],
        id="URL fragments",
    ),
    pytest.param(
        "AccessToken(token='opaque-0123456789', expires_on=1893456000) "
        'b\'{"refresh_token": "rt-0123456789"}\'',
        ["opaque-0123456789", "rt-0123456789"],
        ["expires_on=1893456000"],
        id="reprs",
    ),
    pytest.param(
        "GET /?code=0.AXoAq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4&state=abc HTTP/1.1 "
        "Got auth response: {'code': '0.AXoAq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4', "
        "'device_code': 'DAQABAAEAAAD--DLA3VO7QrddgJg7WevrxyzT'}",
        ["0.AXoAq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4", "DAQABAAEAAAD--DLA3VO7QrddgJg7WevrxyzT"],
        ["state=abc", "Got auth response:"],
        id="MSAL authorization and device codes",
    ),
    pytest.param(
        "connecting through https://corp-user:Pr0xy-Passw0rd@proxy.contoso.example:8080/ to ARM",
        ["Pr0xy-Passw0rd"],
        ["https://corp-user:", "@proxy.contoso.example:8080/"],
        id="credentials in a proxy URL",
    ),
]


@pytest.mark.parametrize(("text", "secrets", "kept"), REALISTIC)
def test_redact_removes_secrets_and_keeps_the_rest(text: str, secrets: list[str], kept: list[str]) -> None:
    assert all(secret in text for secret in secrets)  # the sample really holds them
    clean = redact(text)
    for secret in secrets:
        assert secret not in clean
    for part in kept:
        assert part in clean, (part, clean)
    assert MASK in clean and "eyJ" not in clean
    assert redact(clean) == clean  # stable: redacting twice changes nothing


NOT_SECRETS = [
    # an ARM challenge names the authority, not a token
    'WWW-Authenticate: Bearer authorization_uri="https://login.microsoftonline.com/72f988bf", '
    'error="invalid_token", error_description="The access token has expired"',
    "Bearer token authentication is not permitted for non-TLS protected (non-https) URLs.",
    '{"token_type": "Bearer", "expires_in": 3599}',
    '{"rateLimits": [{"key": "token", "renewalPeriod": 60, "count": 1000}], "secret": 42, "password": null}',
    "could not get token: timeout after 30 s; se=1 in prose; use=x",
    '{"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}',
    "/subscriptions/0b1f6471/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct",
    "Signed in as alice@contoso.example (tenant 72f988bf) with a token from FCDESK_ACCESS_TOKEN.",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "eyJ" * 333_334,  # an "eyJ" starting every few characters of one long base64 run
        "A" * 1_000_000 + "eyJ",
        "eyJhbGciOiJIUzI1NiJ9." * 50_000,
        '{"key": "' + "a=" * 500_000 + '"}',
    ],
    ids=["eyJ run", "long run", "dotted run", "key-value run"],
)
def test_redaction_stays_linear_on_a_megabyte_line(text: str) -> None:
    """The formatter runs on whatever thread logs, the GUI thread included: a 1 MB line must not
    backtrack. The JWT pattern once took 223 s on the first input; the bound is 20× what it takes now."""
    import time

    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 3.0


def test_registered_secrets_are_masked_literally_in_every_spelling() -> None:
    secret = sp_secret() + " w/ 'quotes' & more"  # a typed password can hold anything
    plain = f"keyring write failed for {secret}"
    assert redact(plain) != plain.replace(secret, MASK)  # no pattern knows it: the test is not void
    register_secret(secret)
    assert redact(plain) == f"keyring write failed for {MASK}"
    from urllib.parse import quote, quote_plus

    spellings = (quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1], repr(secret)[1:-1])
    for spelling in spellings:
        assert secret not in (clean := redact(f"x {spelling} y")) and spelling not in clean


def test_short_or_empty_values_are_not_registered() -> None:
    register_secret(None)
    register_secret("")
    register_secret("abc")  # would blank "abc" in every word of every line
    assert redact("abcdef abc") == "abcdef abc"


def test_registering_while_other_threads_log_is_safe() -> None:
    secrets = [sp_secret() for _ in range(40)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def register(chunk: list[str]) -> None:
        barrier.wait()
        for secret in chunk:
            register_secret(secret)

    def scrub() -> None:
        barrier.wait()
        try:
            for _ in range(200):
                redact(" ".join(secrets))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(secrets[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=scrub) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not any(secret in redact(" ".join(secrets)) for secret in secrets)


def test_the_logger_of_a_record_cannot_bypass_redaction(restore_logging: None, tmp_path: Path) -> None:
    """Arguments, ``stack_info`` and a pre-rendered ``exc_text`` are all part of the final text."""
    token = make_jwt()
    configure_logging(log_dir=tmp_path)
    logger = logging.getLogger("azure.identity._internal.decorators")
    logger.warning("ClientSecretCredential.get_token failed: %r", {"access_token": token}, stack_info=True)
    record = logging.LogRecord("fcdesk.x", logging.ERROR, __file__, 1, "boom", None, None)
    record.exc_text = f"Traceback (most recent call last):\nValueError: Bearer {token}"
    logging.getLogger("fcdesk.x").handle(record)
    text = read_log(tmp_path)
    assert "Stack (most recent call last)" in text and "ValueError: Bearer ***" in text
    assert token not in text


def test_logsetup_needs_no_qt_and_no_azure() -> None:
    """The CLI imports it before anything else: it must stay light."""
    import subprocess

    heavy = ("PySide6", "azure", "qasync", "aiohttp")
    code = f"import sys, fcdesk.logsetup; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert logsetup.__all__  # the public names are declared


def test_the_command_line_still_prints_fcdesks_warnings_redacted(
    restore_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the root logger has the file, Python's last-resort stderr handler falls silent: the CLI
    asks for fcdesk's own warnings on stderr (message only), scrubbed like the file."""
    token = make_jwt()
    configure_logging(log_dir=tmp_path, stderr_warnings=True)
    configure_logging(log_dir=tmp_path, stderr_warnings=True)  # idempotent: printed once
    logging.getLogger("fcdesk.actions").error("could not append to the audit log (Bearer %s)", token)
    logging.getLogger("fcdesk.actions").info("an ordinary line")
    logging.getLogger("azure.identity").warning("a third-party warning")
    err = capsys.readouterr().err
    assert err == "fcdesk: could not append to the audit log (Bearer ***)\n"
    text = (tmp_path / "fcdesk.log").read_text(encoding="utf-8")
    assert "an ordinary line" in text and "a third-party warning" in text and token not in text


def test_a_failed_rotation_keeps_writing_to_the_same_file(restore_logging: None, tmp_path: Path) -> None:
    """Windows refuses to rename a file another process holds open: lines must not be lost then."""
    path = configure_logging(log_dir=tmp_path)
    assert path is not None
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(path))
    real_rotate = handler.rotate

    def refuse(source: str, dest: str) -> None:
        raise PermissionError(13, "The process cannot access the file", source)

    handler.rotate = refuse  # type: ignore[method-assign]
    handler.maxBytes = 200
    log = logging.getLogger("fcdesk.test")
    for i in range(20):
        log.warning("line %02d %s", i, "x" * 40)
    handler.rotate = real_rotate  # type: ignore[method-assign]
    text = path.read_text(encoding="utf-8")
    assert all(f"line {i:02d}" in text for i in range(20))
