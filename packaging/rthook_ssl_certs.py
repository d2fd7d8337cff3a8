"""PyInstaller runtime hook: give OpenSSL a CA bundle when the machine has none where it looks.

The bundle carries the build machine's libssl, whose default CA locations are compiled in (Debian:
``/usr/lib/ssl``; a python.org macOS build: inside its framework). On another distribution or a
Mac without that Python those paths do not exist, and every HTTPS request to Azure (our aiohttp
session uses ``ssl.create_default_context()``) would fail certificate verification. Only then,
and only if the user has not chosen a bundle with ``SSL_CERT_FILE``/``SSL_CERT_DIR``, point
OpenSSL at certifi's bundle, which msal's requests dependency brings into the bundle anyway.
Windows is left alone: Python loads the system certificate store there.
"""

import os
import ssl
import sys


def _has_entries(folder: str) -> bool:
    try:
        return bool(os.listdir(folder))
    except OSError:
        return False


def _use_certifi_when_openssl_finds_nothing() -> None:
    if sys.platform == "win32" or os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return
    found = ssl.get_default_verify_paths()  # cafile/capath are None when they do not exist
    if found.cafile or (found.capath and _has_entries(found.capath)):
        return
    try:
        import certifi
    except ImportError:
        return
    os.environ["SSL_CERT_FILE"] = certifi.where()


_use_certifi_when_openssl_finds_nothing()
