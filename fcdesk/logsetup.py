"""The log file, and the redaction that keeps tokens and secrets out of it.

:func:`configure_logging` installs one rotating file handler on the root logger
(``<data>/logs/fcdesk.log``, about 2 MB × 5 backups, UTF-8, created 0600 in a 0700 folder on
POSIX). Its formatter passes the *final* text of every record (message, arguments, traceback and
stack included) through :func:`redact`, so no logger, ours or the SDK's, can write a secret around
it: azure-core only hides the ``Authorization`` header, and its network trace (``logging_enable``)
hides nothing.

:func:`redact` replaces with ``***``: bearer tokens, JWTs, ``Authorization``/``Cookie``/``api-key``/
``x-ms-…-token`` header values, the values of secret-looking keys (``client_secret``, ``clientSecret``,
``password``, ``access_token``, ``refresh_token``, ``id_token``, ``…Key`` such as ``AccountKey``, SAS
``sig``/``se``/``sv``…) written ``k=v``, ``"k": "v"`` or ``'k': 'v'``, PEM private keys, and every
value given to :func:`register_secret` (the client secret the user typed, the token in
``FCDESK_ACCESS_TOKEN``), which may look like nothing in particular.

Standard library only (plus :mod:`fcdesk.store.paths`): the CLI, the window and the error dialog
all use it, and it must work before anything else is imported.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

from fcdesk.store import paths

LOG_FILE_NAME = "fcdesk.log"
LEVEL_ENV = "FCDESK_LOG_LEVEL"
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5
MASK = "***"
#: A registered value shorter than this is ignored: masking it would blank ordinary words in every
#: line, and no real client secret or token is that short.
MIN_SECRET_LENGTH = 8

#: azure-core's per-request log (every request's headers, at INFO): only with FCDESK_LOG_LEVEL=DEBUG.
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"
#: qasync's executor logs each callback *with its arguments* at DEBUG (see app.quiet_executor_debug_log).
QASYNC_LOGGER = "qasync"

_POSIX = os.name == "posix"


# ------------------------------------------------------------------------------------ redaction

#: Key names whose values are secrets, normalised (lower case, without ``-``, ``_``, ``.``, ``$``):
#: a key is secret when it *ends* with one of these (``clientSecret``, ``AZURE_CLIENT_SECRET``,
#: ``x-ms-arm-signed-user-token``, ``AccountKey``…).
_SECRET_ENDINGS = (
    "secret",
    "password",
    "passwd",
    "pwd",
    "token",
    "assertion",
    "signature",
    "apikey",
    "accountkey",
    "accesskey",
    "subscriptionkey",
    "primarykey",
    "secondarykey",
    "masterkey",
    "sharedaccesskey",
)
#: Exact (normalised) key names that are secrets too: HTTP credentials, Cognitive Services keys, SAS.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "key1",
        "key2",
        "sig",
        "xmsauthorizationauxiliary",
        "devicecode",
        "codeverifier",
    }
)
#: Parameters that are only secrets in a query string (SAS ``?sv=…&se=…&sig=…``, an OAuth redirect's
#: ``?code=…``): elsewhere ``se``, ``sv`` and ``code`` (ARM's ``"code": "AuthorizationFailed"``) are
#: too common to blank.
_SAS_QUERY_KEYS = frozenset({"se", "sv", "skoid", "sktid", "skt", "ske", "sks", "skv", "code"})
#: Header names written ``Name: value`` (no quotes) whose value runs to the end of the line.
_HEADER_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "apikey",
        "ocpapimsubscriptionkey",
        "xmsauthorizationauxiliary",
    }
)

_PEM = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END (?P=kind)-----|\Z)", re.DOTALL
)
#: A JWT starts a run of base64url characters (or follows a %-escape: a URL-encoded header reads
#: ``Bearer%20eyJ…``). Starting only there, with possessive runs, keeps this linear: an ``eyJ`` found
#: anywhere inside a long run made the old pattern scan to the run's end each time (minutes per MB).
_JWT = re.compile(
    r"(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{2}))"
    r"eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{2,}+(?:\.[A-Za-z0-9_-]*+){1,3}"
)
#: Entra ID's opaque codes and refresh tokens (``0.AXoA…``, ``1.AV…``), e.g. an authorization code.
_ENTRA_OPAQUE = re.compile(r"(?<![\w.-])[01]\.A[A-Za-z0-9_-]{40,}+")
#: Credentials in a URL (``https://user:password@proxy``): the password part.
_URL_PASSWORD = re.compile(r"(?<=://)(?P<user>[^/\s:@]++):[^/\s@]++(?=@)")
#: ``Bearer <token>`` (RFC 6750's b64token characters), but not a challenge
#: (``Bearer authorization_uri="…"``) nor prose about tokens ("Bearer token authentication…").
_BEARER = re.compile(
    r"\b(?P<scheme>Bearer|PoP)(?P<space>\s+)"
    r"(?![A-Za-z_-]+=\")(?!(?:token|tokens|authentication|auth|challenge|scheme)\b)[A-Za-z0-9._~+/-]+=*",
    re.IGNORECASE,
)
#: A key and its separator (its value is read by _mask_value). A key starts after a non-word
#: character or after an escape (``\\r\\nAuthorization: …`` in a bytes repr).
_KEY = re.compile(
    r"(?:(?<=\\[rnt])|(?<![\w$.\\-]))(?P<key>[A-Za-z_$][\w$.-]*)(?P<close>\\*[\"'])?(?P<sep>\s*[:=]\s*)"
)
_QUOTED = re.compile(r"""b?(?P<q>\\*["'])""")
_BARE = re.compile(r"""[^\s&,;'"<>(){}\[\]|]+""")
_HEADER_VALUE = re.compile(r"""(?:(?!\\[rn])[^\r\n'"])+""")


def _normalised(key: str) -> str:
    return re.sub(r"[-_.$]", "", key).lower()


def _is_secret_key(key: str) -> bool:
    name = _normalised(key)
    if name in _SECRET_KEYS or name.endswith(_SECRET_ENDINGS):
        return True
    return name.startswith("xms") and "token" in name


def _quoted(text: str, start: int) -> tuple[str, int, str] | None:
    """For a quoted value at ``start``: (its opening, where it ends, its closing quote).

    The opening includes a bytes prefix and escaping backslashes (``b'``, ``\\"``); an unterminated
    value (a truncated line) ends with its line and has no closing quote.
    """
    match = _QUOTED.match(text, start)
    if match is None:
        return None
    mark = match.group("q")
    pos = match.end()
    while pos < len(text):
        if text.startswith(mark, pos):
            return match.group(), pos + len(mark), mark
        if text[pos] == "\n":
            break
        pos += 2 if text[pos] == "\\" and len(mark) == 1 else 1
    return match.group(), pos, ""


def _mask_value(text: str, match: re.Match[str]) -> tuple[int, int, str] | None:
    """(start, end, replacement) of the value after a secret key, or None if the value stays."""
    key, sep, end = match.group("key"), match.group("sep"), match.end()
    name = _normalised(key)
    if ":" in sep and match.group("close") is None:
        # ``Authorization: Bearer …`` (a header line): the rest of the line. Other unquoted
        # ``key: value`` pairs are prose ("could not get token: timeout") and stay.
        if name not in _HEADER_KEYS and not (name.startswith("xms") and "token" in name):
            return None
        header = _HEADER_VALUE.match(text, end)
        return (end, header.end(), MASK) if header else None
    if name in _SAS_QUERY_KEYS:
        start = match.start("key")
        if "=" not in sep or start == 0 or text[start - 1] not in "?&":
            return None
    elif not _is_secret_key(key):
        return None
    quoted = _quoted(text, end)
    if quoted is not None:
        opening, value_end, closing = quoted
        return end, value_end, f"{opening}{MASK}{closing}"
    if "=" not in sep:
        return None  # ``"secret": 42`` / ``"token": null``: not a string, nothing to hide
    bare = _BARE.match(text, end)
    return (end, bare.end(), MASK) if bare else None


def _mask_pairs(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _KEY.finditer(text):
        if match.start() < pos:
            continue  # inside a value already masked
        masked = _mask_value(text, match)
        if masked is None:
            continue  # the value is scanned too: a URL in it may hold ``sig=…``
        start, end, replacement = masked
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_bearer(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{match.group('space')}{MASK}"


def _mask_pem(match: re.Match[str]) -> str:
    kind = match.group("kind")
    return f"-----BEGIN {kind}-----{MASK}-----END {kind}-----"


def redact(text: str) -> str:
    """``text`` with every secret it holds replaced by ``***`` (see the module doc).

    Registered values go first, literally, before the patterns change their surroundings.
    """
    if not text:
        return text
    text = _REGISTRY.mask(text)
    text = _PEM.sub(_mask_pem, text)
    text = _mask_pairs(text)
    text = _BEARER.sub(_mask_bearer, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('user')}:{MASK}", text)
    text = _ENTRA_OPAQUE.sub(MASK, text)
    return _JWT.sub(MASK, text)


class _Registry:
    """Values registered at run time, masked literally (and in their URL-, JSON- and repr-escaped
    spellings, as an HTTP body or a dict's repr would show them).

    This is fcdesk's one sanctioned module-level state: the log handlers it protects are themselves
    process-wide (the root logger), any thread writes to them (workers, the SDK's transports), and
    third-party code logs values we cannot wrap. A secret typed in the sign-in dialog must be hidden
    from a line the SDK writes on another thread, so the registry must be reachable from the
    formatter without being passed around. The lock guards the set and the pattern built from it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        spellings = {
            value,
            quote(value, safe=""),
            quote_plus(value),
            json.dumps(value)[1:-1],
            repr(value)[1:-1],
        }
        spellings = {s for s in spellings if len(s) >= MIN_SECRET_LENGTH}
        with self._lock:
            if spellings <= self._values:
                return
            self._values |= spellings
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: no partial leftovers
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        pattern = self._pattern  # one read: a concurrent add() swaps the whole pattern
        return pattern.sub(MASK, text) if pattern is not None else text


_REGISTRY = _Registry()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in the log (and in :func:`redact`'s output) from now on.

    Call it as soon as a secret enters the process: a client secret typed or read from the keyring,
    a token read from an environment variable. Values shorter than :data:`MIN_SECRET_LENGTH` are
    ignored. Thread-safe.
    """
    if value:
        _REGISTRY.add(value)


# ------------------------------------------------------------------------------------- the file


class RedactingFormatter(logging.Formatter):
    """``2026-11-26T08:00:00.123Z LEVEL logger: message`` in UTC, redacted as a whole: the message,
    its arguments, the traceback and the stack are scrubbed together, after formatting, so that no
    part of a record reaches the file unscrubbed."""

    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
        super().__init__(fmt)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file, created (and re-created at each rotation) readable by its owner only.

    When rotating fails (Windows: another fcdesk process, e.g. a scheduled capture, has the file
    open), it keeps appending to the same file rather than dropping every later line.
    """

    def doRollover(self) -> None:  # noqa: N802 - logging API
        try:
            super().doRollover()
        except OSError:
            if self.stream is None:
                self.stream = self._open()

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        fd = os.open(self.baseFilename, flags, 0o600)
        if _POSIX:
            try:
                os.fchmod(fd, 0o600)  # an older file created with the umask's mode
            except OSError:
                pass
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # closed by the handler


class _Console(logging.StreamHandler):  # type: ignore[type-arg]
    """The optional stderr copy of the log (``console=True``), redacted like the file."""


class _Warnings(logging.StreamHandler):  # type: ignore[type-arg]
    """fcdesk's own warnings and errors on stderr for the command line (``stderr_warnings=True``):
    without it they would only reach the file, since Python's last-resort handler stops printing
    once the root logger has one."""


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, _LogFile | _Console)]


def log_file() -> Path | None:
    """The file the log is being written to, or None (not configured, or the folder was unusable)."""
    for handler in _ours():
        if isinstance(handler, _LogFile):
            return Path(handler.baseFilename)
    return None


def resolve_level(level: int | str | None = None) -> int:
    """``level`` (a number or a name such as "debug"), else ``$FCDESK_LOG_LEVEL``, else INFO."""
    for value in (level, os.environ.get(LEVEL_ENV, "").strip() or None):
        if value is None:
            continue
        if isinstance(value, int):
            return value
        text = value.strip()
        if text.isdigit():
            return int(text)
        named = logging.getLevelNamesMapping().get(text.upper())
        if named is not None:
            return named
        _warn(f"unknown log level {text!r}; using INFO")
    return logging.INFO


def configure_logging(
    *,
    log_dir: Path | None = None,
    level: int | str | None = None,
    console: bool = False,
    stderr_warnings: bool = False,
) -> Path | None:
    """Write the log to ``<log_dir>/fcdesk.log`` (default ``paths.log_dir()``); return that file.

    Idempotent: a second call adjusts the level (and moves the file if ``log_dir`` changed) but never
    adds a second handler. If the folder cannot be created or the file opened, fcdesk runs without
    a log file (one warning on stderr) and None is returned: logging must never stop the app.
    """
    root = logging.getLogger()
    resolved = resolve_level(level)
    root.setLevel(resolved)
    _tame_third_parties(resolved)
    folder = (log_dir if log_dir is not None else paths.log_dir()).expanduser().absolute()
    target = folder / LOG_FILE_NAME
    current = log_file()
    if current != target:
        _remove(_LogFile)
        handler = _open_file(folder, target)
        if handler is not None:
            root.addHandler(handler)
    if console and not any(isinstance(h, _Console) for h in root.handlers) and sys.stderr is not None:
        stream = _Console(sys.stderr)
        stream.setFormatter(RedactingFormatter())
        root.addHandler(stream)
    ours = logging.getLogger("fcdesk")
    if stderr_warnings and not any(isinstance(h, _Warnings) for h in ours.handlers) and sys.stderr is not None:
        warnings = _Warnings(sys.stderr)
        warnings.setLevel(logging.WARNING)
        warnings.setFormatter(RedactingFormatter("fcdesk: %(message)s"))
        ours.addHandler(warnings)
    return log_file()


def unconfigure_logging() -> None:
    """Remove (and close) the handlers :func:`configure_logging` installed (tests, a clean exit)."""
    _remove(_LogFile)
    _remove(_Console)
    _remove(_Warnings)


def _remove(kind: type[logging.Handler]) -> None:
    for logger in (logging.getLogger(), logging.getLogger("fcdesk")):
        for handler in [h for h in logger.handlers if isinstance(h, kind)]:
            logger.removeHandler(handler)
            handler.close()


def _open_file(folder: Path, target: Path) -> _LogFile | None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _POSIX:
            os.chmod(folder, 0o700)  # the logs folder is ours: an older one may have the umask's mode
        handler = _LogFile(target, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    except OSError as exc:
        _warn(f"cannot write the log file in {folder} ({exc.strerror or exc}); running without one")
        return None
    handler.setFormatter(RedactingFormatter())
    return handler


def _tame_third_parties(level: int) -> None:
    """azure-core logs every request's headers at INFO: keep that for DEBUG. qasync logs callback
    arguments (which can hold a secret) at DEBUG: never below INFO."""
    logging.getLogger(AZURE_HTTP_LOGGER).setLevel(
        logging.NOTSET if level <= logging.DEBUG else logging.WARNING
    )
    qasync = logging.getLogger(QASYNC_LOGGER)
    if qasync.level == logging.NOTSET or qasync.level < logging.INFO:
        qasync.setLevel(logging.INFO)


def _warn(message: str) -> None:
    """One line on stderr, if there is one (a windowed build on Windows has none)."""
    if sys.stderr is not None:
        print(f"fcdesk: warning: {message}", file=sys.stderr)


__all__ = [
    "LEVEL_ENV",
    "LOG_FILE_NAME",
    "MASK",
    "RedactingFormatter",
    "configure_logging",
    "log_file",
    "redact",
    "register_secret",
    "resolve_level",
    "unconfigure_logging",
]
