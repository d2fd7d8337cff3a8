"""The one place the version number lives (read by pyproject, About and the snapshot header)."""

__version__ = "0.1.0"
