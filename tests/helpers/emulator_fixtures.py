"""Fixtures for tests that write to the ARM emulator: each test gets its own copy of the demo tenant.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``). A test module that
needs another tenant defines its own ``emu``/``scenario``, which take precedence.

- ``base`` (module): the demo tenant, built once per module;
- ``scenario``: a fresh copy of it (records are shared: writes replace them, never edit them);
- ``emu``: a running emulator serving that copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.arm_emulator import ArmEmulator, Scenario


@pytest.fixture(scope="module")
def base() -> Scenario:
    return Scenario.demo()


@pytest.fixture
def scenario(base: Scenario) -> Scenario:
    return Scenario(base.meta, base.records)


@pytest.fixture
def emu(scenario: Scenario) -> Iterator[ArmEmulator]:
    with ArmEmulator(scenario) as emulator:
        yield emulator
