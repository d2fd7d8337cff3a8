"""Persistence: snapshot files (``.fcsnap``), the snapshot library, settings and app folders.

Plain blocking file I/O on the standard library (sqlite3, json) plus platformdirs and orjson.
No Qt and no Azure SDK here (enforced by import-linter, see pyproject.toml): callers run these
functions off the GUI thread (``asyncio.to_thread``) and turn ``SnapshotError.user_message``
into a dialog.
"""
