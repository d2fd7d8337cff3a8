"""The "Sign in to Azure" wizard, driven as a user would, against the real AzureSession and ARM emulator."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QWizard

from fcdesk.app import live_session_factory, store_sp_secret
from fcdesk.azure.contract import KEYRING_SERVICE, TOKEN_ENV, AuthMethod, DeviceCode
from fcdesk.store.settings import Settings
from fcdesk.views.signin_dialog import SETTINGS_KEY, SignInChoice, SignInDialog, SignInServices
from tests.arm_emulator import ArmEmulator, Faults, Scenario

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "s3cr3t-value-that-must-stay-in-the-keyring"


@pytest.fixture(scope="module")
def emu() -> Iterator[ArmEmulator]:
    with ArmEmulator(Scenario.demo(scale=1), faults=Faults(latency_ms=20)) as emulator:
        yield emulator


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "settings.json")


@pytest.fixture
def make_dialog(qtbot, qloop, settings):
    made: list[SignInDialog] = []

    def make() -> SignInDialog:
        dialog = SignInDialog(
            SignInServices(
                session_factory=live_session_factory, settings=settings, store_secret=store_sp_secret
            )
        )
        qtbot.addWidget(dialog)
        dialog.show()
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:  # close the sessions the dialogs still own (no pending tasks, no open sockets)
        if dialog.isVisible():
            dialog.reject()
        qtbot.waitUntil(lambda d=dialog: d.idle, timeout=5000)


def use_emulator(dialog: SignInDialog, emu: ArmEmulator) -> None:
    page = dialog.account_page
    page.set_cloud("custom")
    page.arm_edit.setText(emu.url)
    page.ca_edit.setText(emu.ca_file)


def sign_in(qtbot, dialog: SignInDialog) -> None:
    page = dialog.account_page
    assert page.sign_in_button.isEnabled(), page.hint_label.text()
    with qtbot.waitSignal(dialog.signedIn, timeout=15000):
        qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)


def close_session(qtbot, session) -> None:
    task = asyncio.ensure_future(session.close())
    qtbot.waitUntil(task.done, timeout=5000)


def next_button(dialog: SignInDialog):
    return dialog.button(QWizard.WizardButton.NextButton)


def test_tenant_comes_before_the_method_and_every_label_is_plain_text(make_dialog) -> None:
    dialog = make_dialog()
    page = dialog.account_page
    # in the layout: cloud, tenant, then the method
    form = page.layout().itemAt(0).layout()
    rows = {form.getWidgetPosition(w)[0]: w for w in (page.cloud_combo, page.tenant_edit, page.method_combo)}
    assert [rows[r] for r in sorted(rows)] == [page.cloud_combo, page.tenant_edit, page.method_combo]
    # and for the keyboard: Tab reaches the tenant field before the method
    chain, widget = [], page.cloud_combo
    for _ in range(60):
        chain.append(widget)
        widget = widget.nextInFocusChain()
    assert chain.index(page.tenant_edit) < chain.index(page.method_combo)
    # labels have mnemonics that focus their field, and never interpret markup
    assert any(isinstance(w, QLabel) and w.buddy() is page.tenant_edit for w in page.findChildren(QLabel))
    for label in dialog.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
    assert "home tenant" in page.tenant_edit.placeholderText()
    assert page.other_tenants_check.text().startswith("Also allow other tenants")
    assert [page.method_combo.itemText(i) for i in range(page.method_combo.count())] == [
        "Azure CLI login",
        "Browser",
        "Device code",
        "Service principal",
        "Managed identity",
        f"Access token from {TOKEN_ENV}",
    ]
    # Next stays disabled until signed in
    assert not next_button(dialog).isEnabled()


def test_custom_cloud_and_service_principal_inputs_gate_sign_in(make_dialog, tmp_path: Path) -> None:
    dialog = make_dialog()
    page = dialog.account_page
    page.set_cloud("custom")
    assert page.custom_box.isVisibleTo(dialog)
    assert not page.sign_in_button.isEnabled() and "ARM endpoint" in page.hint_label.text()
    page.arm_edit.setText("http://insecure.example.com")
    assert not page.sign_in_button.isEnabled() and "https://" in page.hint_label.text()
    page.arm_edit.setText("https://management.example.com")
    page.set_method(AuthMethod.SP)
    assert "tenant" in page.hint_label.text()
    page.tenant_edit.setText("not a tenant!")
    assert "tenant ID" in page.hint_label.text()
    page.tenant_edit.setText("contoso.onmicrosoft.com")
    page.client_edit.setText(CLIENT)
    assert not page.sign_in_button.isEnabled() and "secret" in page.hint_label.text()
    page.cert_radio.setChecked(True)
    assert page.cert_edit.isVisibleTo(dialog) and not page.secret_edit.isVisibleTo(dialog)
    cert = tmp_path / "sp.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    page.cert_edit.setText(str(cert))
    assert page.sign_in_button.isEnabled(), page.hint_label.text()
    options = page.current_choice().sign_in_options()
    assert (options.method, options.tenant_id, options.client_id, options.certificate_path) == (
        AuthMethod.SP,
        "contoso.onmicrosoft.com",
        CLIENT,
        str(cert),
    )
    assert options.cloud.name == "custom" and options.cloud.arm_endpoint == "https://management.example.com/"


def test_token_sign_in_lists_subscriptions_and_the_choice_is_remembered(
    make_dialog, qtbot, emu, settings, monkeypatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
    dialog = make_dialog()
    page = dialog.account_page
    use_emulator(dialog, emu)
    page.set_method(AuthMethod.TOKEN)
    assert f"{TOKEN_ENV} is set" in page.token_status.text()
    sign_in(qtbot, dialog)
    assert page.isComplete() and next_button(dialog).isEnabled()
    assert page.cache_label.text() == f"Token cache: {dialog.identity.token_cache}"
    assert "in memory only" in page.cache_label.text()
    assert dialog.identity.tenant_id == emu.scenario.tenant_id

    with qtbot.waitSignal(dialog.subscriptionsLoaded, timeout=15000) as loaded:
        qtbot.mouseClick(next_button(dialog), Qt.MouseButton.LeftButton)
    subs_page = dialog.subscriptions_page
    expected = set(emu.scenario.subscription_ids())
    assert loaded.args == [len(expected)]
    assert {s.lower() for s in subs_page.checked_ids()} == {
        s.lower() for s in expected
    }  # all, the first time
    finish = dialog.button(QWizard.WizardButton.FinishButton)
    assert finish.isEnabled()
    qtbot.mouseClick(subs_page.none_button, Qt.MouseButton.LeftButton)
    assert subs_page.checked_ids() == [] and not finish.isEnabled()
    subs_page.filter_edit.setText("production")
    shown = [item for item in subs_page.items() if not item.isHidden()]
    assert len(shown) == 1 and "Production" in shown[0].text()
    qtbot.mouseClick(subs_page.all_button, Qt.MouseButton.LeftButton)  # only the visible ones
    assert len(subs_page.checked_ids()) == 1 and finish.isEnabled()
    chosen = subs_page.checked_ids()
    subs_page.filter_edit.clear()
    assert "1 of" in subs_page.count_label.text()
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    session = dialog.take_session()
    assert session is not None and session.identity is not None
    close_session(qtbot, session)

    stored = json.loads(settings.path.read_text())["values"][SETTINGS_KEY]
    assert stored["method"] == "token" and stored["cloud"] == "custom" and stored["arm_endpoint"] == emu.url
    assert stored["ca_file"] == emu.ca_file and stored["subscriptions"] == chosen
    assert (
        "token"
        not in json.dumps({k: v for k, v in stored.items() if k not in ("method", "token_scope")}).lower()
    )
    assert emu.mint_token()[:20] not in settings.path.read_text()

    # next time: everything preselected, including the subscriptions once signed in
    again = make_dialog()
    page2 = again.account_page
    assert (page2.cloud_name(), page2.arm_edit.text(), page2.ca_edit.text()) == (
        "custom",
        emu.url,
        emu.ca_file,
    )
    assert page2.method() is AuthMethod.TOKEN
    sign_in(qtbot, again)
    with qtbot.waitSignal(again.subscriptionsLoaded, timeout=15000):
        again.next()
    assert again.subscriptions_page.checked_ids() == chosen


def test_a_tenant_typed_as_a_domain_lists_that_tenants_subscriptions(
    make_dialog, qtbot, emu, monkeypatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
    dialog = make_dialog()
    use_emulator(dialog, emu)
    dialog.account_page.tenant_edit.setText("contoso.onmicrosoft.com")
    dialog.account_page.set_method(AuthMethod.TOKEN)
    sign_in(qtbot, dialog)
    assert dialog.identity.tenant_id == emu.scenario.tenant_id  # resolved from the token
    with qtbot.waitSignal(dialog.subscriptionsLoaded, timeout=15000) as loaded:
        dialog.next()
    assert loaded.args == [len(emu.scenario.subscription_ids())] and loaded.args[0] > 0
    choice = dialog.account_page.current_choice()
    assert [o.tenant_id for o in choice.capture_options(dialog.identity)] == [emu.scenario.tenant_id]


def test_service_principal_secret_goes_only_to_the_keyring(
    make_dialog, qtbot, emu, settings, in_memory_keyring, caplog, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    dialog = make_dialog()
    page = dialog.account_page
    use_emulator(dialog, emu)
    page.authority_edit.setText("127.0.0.1:9")  # nobody answers there: the sign-in hangs in retries
    page.tenant_edit.setText(TENANT)
    page.set_method(AuthMethod.SP)
    page.client_edit.setText(CLIENT)
    page.secret_edit.setText(SECRET)
    page.remember_check.setChecked(True)
    qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.busy.isVisible() and page.cancel_button.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: bool(in_memory_keyring.passwords), timeout=5000)
    # the sign-in can be cancelled; the dialog stays open to fix the input
    with qtbot.waitSignal(dialog.signInFailed, timeout=3000) as failed:
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert failed.args == ["cancelled"] and page.status_label.text() == "Sign-in cancelled."
    assert dialog.isVisible() and not page.isComplete() and page.tenant_edit.isEnabled()
    assert not page.busy.isVisible() and page.sign_in_button.isEnabled()
    # the secret is in the keyring, under the contract's key, and nowhere else
    assert in_memory_keyring.passwords == {(KEYRING_SERVICE, f"sp:{TENANT}:{CLIENT}"): SECRET}
    assert SECRET not in caplog.text
    choice = page.current_choice()
    assert choice.remember_secret and SECRET not in json.dumps(choice.to_settings())
    settings.set(SETTINGS_KEY, choice.to_settings())
    settings.save()
    assert SECRET not in settings.path.read_text()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path

    # Not remembered: the secret goes to this session only, the keyring is left alone.
    in_memory_keyring.passwords.clear()
    page.remember_check.setChecked(False)
    page.secret_edit.setText(SECRET)
    qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None, timeout=5000)
    with qtbot.waitSignal(dialog.signInFailed, timeout=3000):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert in_memory_keyring.passwords == {}
    assert SECRET not in caplog.text


def test_a_failed_sign_in_is_plain_text_and_the_dialog_stays_open(
    make_dialog, qtbot, emu, tmp_path: Path
) -> None:
    dialog = make_dialog()
    page = dialog.account_page
    use_emulator(dialog, emu)
    page.tenant_edit.setText(TENANT)
    page.set_method(AuthMethod.SP)
    page.client_edit.setText(CLIENT)
    page.cert_radio.setChecked(True)
    cert = tmp_path / "not-a-certificate.pem"
    cert.write_text("<b>this is not a certificate</b>\n")
    page.cert_edit.setText(str(cert))
    with qtbot.waitSignal(dialog.signInFailed, timeout=15000) as failed:
        qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
    text = page.status_label.text()
    assert text.startswith("Sign-in failed: ") and failed.args[0] in text
    assert "Traceback" not in text and "\n" not in text
    assert page.status_label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.isVisible() and not page.isComplete() and page.cert_edit.isEnabled()
    assert not dialog.button(QWizard.WizardButton.NextButton).isEnabled()
    assert dialog.session is None  # the failed attempt's session was closed


def test_a_remembered_secret_need_not_be_typed_again(make_dialog, settings) -> None:
    remembered = SignInChoice(method=AuthMethod.SP, tenant=TENANT, client_id=CLIENT, remember_secret=True)
    settings.set(SETTINGS_KEY, remembered.to_settings())
    dialog = make_dialog()
    page = dialog.account_page
    assert (
        page.method() is AuthMethod.SP
        and page.client_edit.text() == CLIENT
        and page.remember_check.isChecked()
    )
    assert page.secret_edit.text() == "" and "keyring" in page.secret_edit.placeholderText()
    assert page.sign_in_button.isEnabled(), page.hint_label.text()
    page.client_edit.setText(
        "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee"
    )  # another principal: its secret is needed
    assert not page.sign_in_button.isEnabled()


def test_device_code_is_shown_as_plain_text_with_a_copy_button(make_dialog, qtbot) -> None:
    dialog = make_dialog()
    page = dialog.account_page
    page.set_method(AuthMethod.DEVICE_CODE)
    assert not page.device_box.isVisibleTo(dialog)
    dialog.deviceCodeReceived.emit(
        DeviceCode(
            "https://microsoft.com/devicelogin", "<B>ABC-123", "To sign in, enter the code <B>ABC-123."
        )
    )
    assert page.device_box.isVisibleTo(dialog)
    assert page.device_url.text() == "https://microsoft.com/devicelogin"
    assert page.device_code.text() == "<B>ABC-123"
    for label in (page.device_url, page.device_code, page.device_message):
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(page.copy_code_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "<B>ABC-123"


def test_token_method_says_when_the_variable_is_missing(make_dialog, monkeypatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    dialog = make_dialog()
    page = dialog.account_page
    page.set_method(AuthMethod.TOKEN)
    assert f"{TOKEN_ENV} is not set" in page.token_status.text()
    assert not page.sign_in_button.isEnabled()


def test_choice_round_trips_and_knows_when_it_can_sign_in_silently() -> None:
    choice = SignInChoice(
        method=AuthMethod.CLI,
        cloud="usgov",
        tenant="contoso.onmicrosoft.com",
        subscriptions=["a", "b"],
        other_tenants=True,
        subscription_tenants={"a": "t1", "b": "t2"},
    )
    again = SignInChoice.from_settings(json.loads(json.dumps(choice.to_settings())))
    assert again == choice
    assert again.cloud_object().name == "usgov"
    assert [(o.tenant_id, o.subscriptions) for o in again.capture_options()] == [("t1", ["a"]), ("t2", ["b"])]
    assert choice.silent_capable({}) is True
    token = SignInChoice(method=AuthMethod.TOKEN)
    assert token.silent_capable({TOKEN_ENV: "x"}) and not token.silent_capable({})
    assert not SignInChoice(method=AuthMethod.BROWSER).silent_capable({TOKEN_ENV: "x"})
    assert SignInChoice.from_settings({"method": "nope"}) is None and SignInChoice.from_settings(None) is None
    # one tenant: one capture of the chosen subscriptions in that tenant
    single = SignInChoice(method=AuthMethod.TOKEN, tenant="t9", subscriptions=["x"]).capture_options()
    assert [(o.tenant_id, o.subscriptions) for o in single] == [("t9", ["x"])]
