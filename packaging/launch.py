"""Entry script of the frozen app: ``fcdesk`` (console) and ``fcdesk-gui`` (windowed) both run it.

It does what the ``fcdesk`` / ``fcdesk-gui`` scripts of pyproject.toml do, ``fcdesk.__main__:main``,
with one addition for support and for tests/test_packaging.py: with ``FCDESK_BUNDLE_CHECK=1`` in
the environment it prints the bundle diagnostics of ``bundle_check.py`` (keyring backend, hidden
imports, C speedups, resources) as JSON instead of starting fcdesk. An environment variable rather
than an option, so fcdesk's own command line stays exactly the one of the installed package.
"""

from __future__ import annotations

import os
import sys

BUNDLE_CHECK_ENV = "FCDESK_BUNDLE_CHECK"


def launch() -> int:
    if os.environ.get(BUNDLE_CHECK_ENV) == "1":
        import bundle_check

        return bundle_check.main()
    from fcdesk.__main__ import main

    return main()


if __name__ == "__main__":
    sys.exit(launch())
