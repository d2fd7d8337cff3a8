"""Pure-Python domain: no Qt, no Azure SDK (enforced by tests/test_layering.py and import-linter)."""
