"""The "Sign in to Azure" wizard: cloud, tenant, method, then the subscriptions to read.

Page 1 (account): the cloud (public, US Government, China or custom), the tenant FIRST (so the
sign-in prompt goes to the right directory), then the method and its details. "Sign in" runs
``session.sign_in`` on the qasync loop with a busy indicator and a Cancel button; failures are shown
as plain text and the page stays editable. Next is enabled once signed in with the inputs shown
(the ``isComplete`` pattern).

Page 2 (subscriptions): ``session.subscriptions()`` as checkboxes with a filter and select
all/none. Finishing remembers the choice in the settings (cloud, tenant, method, client id,
certificate path, subscription ids; never a secret) so it is preselected next time.

Secrets: a service principal's client secret is handed to ``store_secret`` (the auth helpers,
which keep it in the OS keyring) and to nothing else: not the settings, not a file, not a log.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from qasync import asyncSlot

from fcdesk.azure.clouds import CLOUDS, PUBLIC, Cloud, custom_cloud
from fcdesk.azure.contract import (
    TOKEN_ENV,
    AuthMethod,
    CaptureOptions,
    DeviceCode,
    Identity,
    LiveSession,
    SignInOptions,
    SubscriptionChoice,
    Tenant,
)
from fcdesk.views.widgets import PlainLabel, PlainWizard

log = logging.getLogger(__name__)

#: Settings key of the remembered sign-in choice (a JSON object; never holds a secret).
SETTINGS_KEY = "signin/last"

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+$")

METHOD_LABELS: dict[AuthMethod, str] = {
    AuthMethod.CLI: "Azure CLI login",
    AuthMethod.BROWSER: "Browser",
    AuthMethod.DEVICE_CODE: "Device code",
    AuthMethod.SP: "Service principal",
    AuthMethod.MSI: "Managed identity",
    AuthMethod.TOKEN: f"Access token from {TOKEN_ENV}",
}
CLOUD_LABELS = {
    "public": "Azure public",
    "usgov": "Azure US Government",
    "china": "Azure China (21Vianet)",
    "custom": "Custom…",
}
#: Methods that never prompt: a remembered sign-in with one of them is repeated silently at start.
NON_INTERACTIVE = frozenset({AuthMethod.CLI, AuthMethod.TOKEN})


class SettingsLike(Protocol):
    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def save(self) -> None: ...


# ------------------------------------------------------------------------------------ the choice


@dataclass(slots=True)
class SignInChoice:
    """What the user chose, as remembered in the settings. Holds no secret."""

    method: AuthMethod = AuthMethod.BROWSER
    cloud: str = "public"  #: public | usgov | china | custom
    arm_endpoint: str = ""  #: custom cloud only
    authority_host: str = ""  #: custom cloud only
    token_scope: str = ""  #: custom cloud only ("" = <endpoint>/.default)
    ca_file: str = ""  #: custom cloud only
    tenant: str = ""  #: "" = the home tenant
    other_tenants: bool = False  #: also list (and read) subscriptions of other tenants
    client_id: str = ""  #: service principal, user-assigned managed identity
    certificate_path: str = ""  #: service principal with a certificate
    remember_secret: bool = False  #: the service principal's secret is in the OS keyring
    subscriptions: list[str] = field(default_factory=list)  #: ids chosen on the last sign-in
    #: the tenant of each chosen subscription (lower-case id → tenant id), for other-tenant captures
    subscription_tenants: dict[str, str] = field(default_factory=dict)
    tenant_name: str = ""  #: display name of the signed-in tenant (for the title bar)

    def cloud_object(self) -> Cloud:
        if self.cloud == "custom":
            return custom_cloud(
                self.arm_endpoint,
                token_scope=self.token_scope or None,
                authority_host=self.authority_host or PUBLIC.authority_host,
                ca_file=self.ca_file or None,
            )
        return CLOUDS.get(self.cloud, PUBLIC)

    def sign_in_options(self) -> SignInOptions:
        client = self.client_id.strip() or None
        return SignInOptions(
            method=self.method,
            cloud=self.cloud_object(),
            tenant_id=self.tenant.strip() or None,
            client_id=client if self.method in (AuthMethod.SP, AuthMethod.MSI) else None,
            certificate_path=(self.certificate_path or None) if self.method is AuthMethod.SP else None,
        )

    def capture_options(self, identity: Identity | None = None) -> list[CaptureOptions]:
        """One capture per tenant: the sign-in's, then (opted in) every other tenant chosen from."""
        # The signed-in tenant by id (a typed domain resolves to it); the typed value before sign-in.
        home = (identity.tenant_id if identity else "") or self.tenant.strip() or None
        cloud = self.cloud_object()
        if not self.other_tenants or not self.subscriptions:
            return [
                CaptureOptions(cloud=cloud, subscriptions=list(self.subscriptions) or None, tenant_id=home)
            ]
        by_tenant: dict[str, list[str]] = {}
        for sub in self.subscriptions:
            tenant = self.subscription_tenants.get(sub.lower()) or home or ""
            by_tenant.setdefault(tenant.lower(), []).append(sub)
        home_key = (home or "").lower()
        order = sorted(by_tenant, key=lambda t: (t != home_key, t))
        return [CaptureOptions(cloud=cloud, subscriptions=by_tenant[t], tenant_id=t or None) for t in order]

    def silent_capable(self, environ: Mapping[str, str] | None = None) -> bool:
        """True when signing in again needs no user interaction (CLI, or the token variable set)."""
        env = os.environ if environ is None else environ
        if self.method is AuthMethod.CLI:
            return True
        return self.method is AuthMethod.TOKEN and bool(env.get(TOKEN_ENV, "").strip())

    def to_settings(self) -> dict[str, Any]:
        return {
            "version": 1,
            "method": str(self.method),
            "cloud": self.cloud,
            "arm_endpoint": self.arm_endpoint,
            "authority_host": self.authority_host,
            "token_scope": self.token_scope,
            "ca_file": self.ca_file,
            "tenant": self.tenant,
            "other_tenants": self.other_tenants,
            "client_id": self.client_id,
            "certificate_path": self.certificate_path,
            "remember_secret": self.remember_secret,
            "subscriptions": list(self.subscriptions),
            "subscription_tenants": dict(self.subscription_tenants),
            "tenant_name": self.tenant_name,
        }

    @classmethod
    def from_settings(cls, value: object) -> SignInChoice | None:
        """The remembered choice, or None when there is none (or it is unreadable)."""
        if not isinstance(value, dict):
            return None
        try:
            method = AuthMethod(value.get("method", ""))
        except ValueError:
            return None

        def text(key: str) -> str:
            v = value.get(key, "")
            return v if isinstance(v, str) else ""

        subs = value.get("subscriptions", [])
        tenants = value.get("subscription_tenants", {})
        cloud = text("cloud")
        return cls(
            method=method,
            cloud=cloud if cloud in CLOUD_LABELS else "public",
            arm_endpoint=text("arm_endpoint"),
            authority_host=text("authority_host"),
            token_scope=text("token_scope"),
            ca_file=text("ca_file"),
            tenant=text("tenant"),
            other_tenants=value.get("other_tenants") is True,
            client_id=text("client_id"),
            certificate_path=text("certificate_path"),
            remember_secret=value.get("remember_secret") is True,
            subscriptions=[s for s in subs if isinstance(s, str)] if isinstance(subs, list) else [],
            subscription_tenants=(
                {k: v for k, v in tenants.items() if isinstance(v, str)} if isinstance(tenants, dict) else {}
            ),
            tenant_name=text("tenant_name"),
        )


def remembered_choice(settings: SettingsLike | None) -> SignInChoice | None:
    return SignInChoice.from_settings(settings.get(SETTINGS_KEY)) if settings is not None else None


def remember_choice(settings: SettingsLike | None, choice: SignInChoice) -> None:
    if settings is None:
        return
    settings.set(SETTINGS_KEY, choice.to_settings())
    try:
        settings.save()
    except OSError as exc:
        log.warning("Could not save the sign-in choice: %s", exc)


# ------------------------------------------------------------------------------------ services


#: The auth helpers' keyring writer for a service principal's secret: (tenant, client id, secret).
#: A coroutine (the keyring call itself runs on a worker thread: it can block on an unlock prompt).
StoreSecret = Callable[[str, str, str], Awaitable[None]]


class SessionFactory(Protocol):
    """A new, signed-out live session; ``secret`` is a service principal's secret for it alone."""

    def __call__(self, *, secret: str | None = None) -> LiveSession: ...


@dataclass(slots=True)
class SignInServices:
    """What the dialog uses from outside the GUI, injected by the composition root."""

    session_factory: SessionFactory | Callable[..., LiveSession]
    settings: SettingsLike | None = None
    store_secret: StoreSecret | None = None
    #: awaited before the first session is made (the window imports the SDK on a worker thread)
    prepare: Callable[[], Awaitable[None]] | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines[:6])
    return text if len(text) <= 600 else text[:599] + "…"


def _plain(text: str = "", *, muted: bool = False, wrap: bool = True) -> PlainLabel:
    return PlainLabel(text, wrap=wrap, muted=muted)


def _form_label(text: str, buddy: QWidget) -> QLabel:
    """A form label with a keyboard mnemonic (Alt+letter focuses ``buddy``); plain text."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setBuddy(buddy)
    return label


class PageId(enum.IntEnum):
    ACCOUNT = 0
    SUBSCRIPTIONS = 1


# ------------------------------------------------------------------------------------ page 1


class AccountPage(QWizardPage):
    """Cloud, tenant, method; "Sign in" gates Next."""

    def __init__(self, wizard: SignInDialog) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setTitle("Sign in to Azure")
        self.setSubTitle(
            "Choose the cloud and the tenant first, then how to sign in. Nothing is read before you sign in."
        )
        self._identity: Identity | None = None
        self._signed_in_with: tuple[Any, ...] | None = None
        self._busy = False
        self._task: asyncio.Task[Any] | None = None

        outer = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        outer.addLayout(form)

        # -- cloud
        self.cloud_combo = QComboBox(self)
        self.cloud_combo.setObjectName("cloudCombo")
        self.cloud_combo.setAccessibleName("Cloud")
        for name, label in CLOUD_LABELS.items():
            self.cloud_combo.addItem(label, name)
        form.addRow(_form_label("&Cloud:", self.cloud_combo), self.cloud_combo)

        self.custom_box = QWidget(self)
        custom = QFormLayout(self.custom_box)
        custom.setContentsMargins(16, 0, 0, 0)
        self.arm_edit = QLineEdit(self.custom_box)
        self.arm_edit.setObjectName("armEndpoint")
        self.arm_edit.setPlaceholderText("https://management.example.com/")
        self.arm_edit.setAccessibleName("ARM endpoint")
        self.authority_edit = QLineEdit(self.custom_box)
        self.authority_edit.setObjectName("authorityHost")
        self.authority_edit.setPlaceholderText(PUBLIC.authority_host)
        self.authority_edit.setAccessibleName("Authority host")
        self.scope_edit = QLineEdit(self.custom_box)
        self.scope_edit.setObjectName("tokenScope")
        self.scope_edit.setPlaceholderText("<ARM endpoint>/.default")
        self.scope_edit.setAccessibleName("Token scope")
        self.ca_edit = QLineEdit(self.custom_box)
        self.ca_edit.setObjectName("caBundle")
        self.ca_edit.setPlaceholderText("Optional: a PEM file for a private certificate authority")
        self.ca_edit.setAccessibleName("CA bundle file")
        self.ca_browse = QPushButton("Browse…", self.custom_box)
        self.ca_browse.setAccessibleName("Choose a CA bundle file")
        ca_row = QHBoxLayout()
        ca_row.setContentsMargins(0, 0, 0, 0)
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse)
        custom.addRow(_form_label("&ARM endpoint:", self.arm_edit), self.arm_edit)
        custom.addRow(_form_label("A&uthority host:", self.authority_edit), self.authority_edit)
        custom.addRow(_form_label("Token sco&pe:", self.scope_edit), self.scope_edit)
        custom.addRow(_form_label("CA &bundle:", self.ca_edit), ca_row)
        form.addRow(self.custom_box)

        # -- tenant (before the method: the prompt goes to the right directory)
        self.tenant_edit = QLineEdit(self)
        self.tenant_edit.setObjectName("tenantEdit")
        self.tenant_edit.setAccessibleName("Tenant")
        self.tenant_edit.setPlaceholderText("Tenant ID or domain (empty: your home tenant)")
        form.addRow(_form_label("&Tenant:", self.tenant_edit), self.tenant_edit)
        self.other_tenants_check = QCheckBox("Also allow other tenants I can access", self)
        self.other_tenants_check.setObjectName("otherTenants")
        self.other_tenants_check.setToolTip(
            "Lists and reads subscriptions of every tenant this sign-in can reach, not only the one above."
        )
        form.addRow(_plain(wrap=False), self.other_tenants_check)

        # -- method
        self.method_combo = QComboBox(self)
        self.method_combo.setObjectName("methodCombo")
        self.method_combo.setAccessibleName("Sign-in method")
        for method, label in METHOD_LABELS.items():
            self.method_combo.addItem(label, method)
        form.addRow(_form_label("&Method:", self.method_combo), self.method_combo)

        self.method_stack = QStackedWidget(self)
        self.method_stack.setObjectName("methodDetails")
        self._method_pages: dict[AuthMethod, QWidget] = {}
        self._build_method_pages()
        form.addRow(self.method_stack)

        # -- device code (shown when the session reports one)
        self.device_box = QWidget(self)
        self.device_box.setObjectName("deviceCodeBox")
        dev = QFormLayout(self.device_box)
        dev.setContentsMargins(0, 4, 0, 4)
        self.device_url = _plain(wrap=False)
        self.device_url.setObjectName("deviceCodeUrl")
        self.device_code = _plain(wrap=False)
        self.device_code.setObjectName("deviceCode")
        font = self.device_code.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        font.setFamily("monospace")
        self.device_code.setFont(font)
        self.copy_code_button = QPushButton("Cop&y code", self.device_box)
        self.copy_code_button.setObjectName("copyDeviceCode")
        self.copy_code_button.clicked.connect(self.copy_device_code)
        code_row = QHBoxLayout()
        code_row.setContentsMargins(0, 0, 0, 0)
        code_row.addWidget(self.device_code)
        code_row.addWidget(self.copy_code_button)
        code_row.addStretch(1)
        self.device_message = _plain(muted=True)
        dev.addRow(_plain("Open:", wrap=False), self.device_url)
        dev.addRow(_plain("Enter the code:", wrap=False), code_row)
        dev.addRow(self.device_message)
        self.device_box.setVisible(False)
        outer.addWidget(self.device_box)

        # -- sign in, busy, cancel, messages
        row = QHBoxLayout()
        self.sign_in_button = QPushButton("&Sign in", self)
        self.sign_in_button.setObjectName("signInButton")
        self.sign_in_button.setAutoDefault(True)
        self.busy = QProgressBar(self)
        self.busy.setObjectName("signInBusy")
        self.busy.setAccessibleName("Signing in")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(140)
        self.busy.setVisible(False)
        self.cancel_button = QPushButton("Cancel sign-in", self)
        self.cancel_button.setObjectName("cancelSignIn")
        self.cancel_button.setVisible(False)
        self.hint_label = _plain(muted=True)
        self.hint_label.setObjectName("signInHint")
        row.addWidget(self.sign_in_button)
        row.addWidget(self.busy)
        row.addWidget(self.cancel_button)
        row.addWidget(self.hint_label, 1)
        outer.addLayout(row)
        self.status_label = _plain()
        self.status_label.setObjectName("signInStatus")
        self.cache_label = _plain(muted=True)
        self.cache_label.setObjectName("tokenCache")
        outer.addWidget(self.status_label)
        outer.addWidget(self.cache_label)
        outer.addStretch(1)

        # -- reactions
        self.cloud_combo.currentIndexChanged.connect(self._on_cloud_changed)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        for edit in (
            self.arm_edit,
            self.authority_edit,
            self.scope_edit,
            self.ca_edit,
            self.tenant_edit,
            self.client_edit,
            self.secret_edit,
            self.cert_edit,
            self.msi_client_edit,
        ):
            edit.textChanged.connect(self._inputs_changed)
            edit.returnPressed.connect(self._on_return)  # Enter signs in (Next is disabled until then)
        self.other_tenants_check.toggled.connect(self._inputs_changed)
        self.secret_mode.idToggled.connect(lambda *_: self._on_secret_mode())
        self.remember_check.toggled.connect(self._inputs_changed)
        self.ca_browse.clicked.connect(
            lambda: self._pick_file(self.ca_edit, "CA bundle", "PEM files (*.pem *.crt *.cer);;All files (*)")
        )
        self.cert_browse.clicked.connect(
            lambda: self._pick_file(
                self.cert_edit, "Certificate", "Certificates (*.pem *.pfx *.p12);;All files (*)"
            )
        )
        self.sign_in_button.clicked.connect(self.sign_in)
        self.cancel_button.clicked.connect(self.cancel_sign_in)
        self._on_cloud_changed()
        self._on_method_changed()
        self._on_secret_mode()

    def _build_method_pages(self) -> None:
        def text_page(text: str) -> QWidget:
            page = QWidget(self.method_stack)
            lay = QVBoxLayout(page)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(_plain(text, muted=True))
            return page

        self._method_pages[AuthMethod.CLI] = text_page(
            "Uses the account you signed in with the Azure CLI (az login) on this computer. Nothing is asked."
        )
        self._method_pages[AuthMethod.BROWSER] = text_page(
            "Opens your web browser to sign in; multi-factor authentication works as usual."
        )
        self._method_pages[AuthMethod.DEVICE_CODE] = text_page(
            "Shows a code to enter on a sign-in page, on this or any other device."
        )

        sp = QWidget(self.method_stack)
        spf = QFormLayout(sp)
        spf.setContentsMargins(0, 0, 0, 0)
        self.client_edit = QLineEdit(sp)
        self.client_edit.setObjectName("clientId")
        self.client_edit.setAccessibleName("Client ID")
        self.client_edit.setPlaceholderText("Application (client) ID")
        spf.addRow(_form_label("Client &ID:", self.client_edit), self.client_edit)
        self.secret_radio = QRadioButton("Client s&ecret", sp)
        self.cert_radio = QRadioButton("Certificate &file", sp)
        self.secret_mode = QButtonGroup(sp)
        self.secret_mode.addButton(self.secret_radio, 0)
        self.secret_mode.addButton(self.cert_radio, 1)
        self.secret_radio.setChecked(True)
        modes = QHBoxLayout()
        modes.setContentsMargins(0, 0, 0, 0)
        modes.addWidget(self.secret_radio)
        modes.addWidget(self.cert_radio)
        modes.addStretch(1)
        spf.addRow(_plain(wrap=False), modes)
        self.secret_edit = QLineEdit(sp)
        self.secret_edit.setObjectName("clientSecret")
        self.secret_edit.setAccessibleName("Client secret")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_label = _form_label("Secret:", self.secret_edit)
        spf.addRow(self.secret_label, self.secret_edit)
        self.cert_edit = QLineEdit(sp)
        self.cert_edit.setObjectName("certificatePath")
        self.cert_edit.setAccessibleName("Certificate file")
        self.cert_browse = QPushButton("Browse…", sp)
        self.cert_browse.setAccessibleName("Choose a certificate file")
        cert_row = QHBoxLayout()
        cert_row.setContentsMargins(0, 0, 0, 0)
        cert_row.addWidget(self.cert_edit, 1)
        cert_row.addWidget(self.cert_browse)
        self.cert_row = QWidget(sp)
        self.cert_row.setLayout(cert_row)
        self.cert_label = _form_label("Certificate:", self.cert_edit)
        spf.addRow(self.cert_label, self.cert_row)
        self.remember_check = QCheckBox("Remember secret in the OS keyring", sp)
        self.remember_check.setObjectName("rememberSecret")
        self.remember_check.setToolTip(
            "The secret is kept only in the OS keyring, never in fcdesk's settings or files."
        )
        spf.addRow(_plain(wrap=False), self.remember_check)
        self._method_pages[AuthMethod.SP] = sp

        msi = QWidget(self.method_stack)
        msif = QFormLayout(msi)
        msif.setContentsMargins(0, 0, 0, 0)
        self.msi_client_edit = QLineEdit(msi)
        self.msi_client_edit.setObjectName("msiClientId")
        self.msi_client_edit.setAccessibleName("Managed identity client ID")
        self.msi_client_edit.setPlaceholderText("Optional: a user-assigned identity's client ID")
        msif.addRow(_form_label("Client I&D:", self.msi_client_edit), self.msi_client_edit)
        msif.addRow(
            _plain("Works on Azure VMs, App Service, Container Apps and other Azure hosts.", muted=True)
        )
        self._method_pages[AuthMethod.MSI] = msi

        token = QWidget(self.method_stack)
        tl = QVBoxLayout(token)
        tl.setContentsMargins(0, 0, 0, 0)
        self.token_status = _plain()
        self.token_status.setObjectName("tokenStatus")
        tl.addWidget(self.token_status)
        self._method_pages[AuthMethod.TOKEN] = token

        for page in self._method_pages.values():
            self.method_stack.addWidget(page)

    # -------------------------------------------------------------------------------- inputs

    def method(self) -> AuthMethod:
        return AuthMethod(self.method_combo.currentData())

    def cloud_name(self) -> str:
        return str(self.cloud_combo.currentData())

    def set_method(self, method: AuthMethod) -> None:
        self.method_combo.setCurrentIndex(max(self.method_combo.findData(method), 0))

    def set_cloud(self, name: str) -> None:
        self.cloud_combo.setCurrentIndex(max(self.cloud_combo.findData(name), 0))

    def token_is_set(self) -> bool:
        return bool(self.dialog.services.environ.get(TOKEN_ENV, "").strip())

    def apply_choice(self, choice: SignInChoice) -> None:
        """Preselect a remembered choice (no secret is ever part of it)."""
        self.set_cloud(choice.cloud)
        self.arm_edit.setText(choice.arm_endpoint)
        self.authority_edit.setText(choice.authority_host)
        self.scope_edit.setText(choice.token_scope)
        self.ca_edit.setText(choice.ca_file)
        self.tenant_edit.setText(choice.tenant)
        self.other_tenants_check.setChecked(choice.other_tenants)
        self.set_method(choice.method)
        if choice.method is AuthMethod.MSI:
            self.msi_client_edit.setText(choice.client_id)
        else:
            self.client_edit.setText(choice.client_id)
        self.cert_edit.setText(choice.certificate_path)
        (self.cert_radio if choice.certificate_path else self.secret_radio).setChecked(True)
        self.remember_check.setChecked(choice.remember_secret)
        self._refresh_secret_placeholder()

    def current_choice(self) -> SignInChoice:
        method = self.method()
        custom = self.cloud_name() == "custom"
        client = (
            self.client_edit.text().strip()
            if method is AuthMethod.SP
            else self.msi_client_edit.text().strip()
            if method is AuthMethod.MSI
            else ""
        )
        return SignInChoice(
            method=method,
            cloud=self.cloud_name(),
            arm_endpoint=self.arm_edit.text().strip() if custom else "",
            authority_host=self.authority_edit.text().strip() if custom else "",
            token_scope=self.scope_edit.text().strip() if custom else "",
            ca_file=self.ca_edit.text().strip() if custom else "",
            tenant=self.tenant_edit.text().strip(),
            other_tenants=self.other_tenants_check.isChecked(),
            client_id=client,
            certificate_path=self.cert_edit.text().strip()
            if method is AuthMethod.SP and self.cert_radio.isChecked()
            else "",
            remember_secret=method is AuthMethod.SP
            and self.secret_radio.isChecked()
            and self.remember_check.isChecked(),
        )

    def _secret_remembered(self) -> bool:
        """A secret for this tenant and client id was remembered in the keyring on a previous sign-in."""
        prev = self.dialog.remembered
        choice = self.current_choice()
        return bool(
            prev is not None
            and prev.method is AuthMethod.SP
            and prev.remember_secret
            and prev.tenant.lower() == choice.tenant.lower()
            and prev.client_id.lower() == choice.client_id.lower()
        )

    def input_problem(self) -> str | None:
        """Why "Sign in" is not possible yet (plain text), or None."""
        choice = self.current_choice()
        if choice.cloud == "custom":
            arm = choice.arm_endpoint
            if not arm:
                return "Enter the ARM endpoint of the custom cloud."
            if not arm.lower().startswith("https://"):
                return "The ARM endpoint must start with https:// (tokens are never sent over plain HTTP)."
            if choice.ca_file and not Path(choice.ca_file).expanduser().is_file():
                return "The CA bundle file does not exist."
        tenant = choice.tenant
        if tenant and not (GUID_RE.match(tenant) or DOMAIN_RE.match(tenant)):
            return "The tenant is a tenant ID (a GUID) or a domain such as contoso.onmicrosoft.com."
        if choice.method is AuthMethod.SP:
            if not tenant:
                return "A service principal signs in to one tenant: enter its tenant ID or domain."
            if not GUID_RE.match(choice.client_id):
                return "Enter the service principal's client ID (a GUID)."
            if self.cert_radio.isChecked():
                if not choice.certificate_path:
                    return "Choose the certificate file."
                if not Path(choice.certificate_path).expanduser().is_file():
                    return "The certificate file does not exist."
            elif not self.secret_edit.text() and not self._secret_remembered():
                return "Enter the client secret."
        if choice.method is AuthMethod.MSI and choice.client_id and not GUID_RE.match(choice.client_id):
            return "A managed identity's client ID is a GUID (or leave it empty)."
        if choice.method is AuthMethod.TOKEN and not self.token_is_set():
            return f"{TOKEN_ENV} is not set."
        return None

    def _key(self) -> tuple[Any, ...]:
        return (repr(self.current_choice()), self.secret_edit.text() != "")

    def _on_cloud_changed(self, *_: object) -> None:
        self.custom_box.setVisible(self.cloud_name() == "custom")
        self._inputs_changed()

    def _on_method_changed(self, *_: object) -> None:
        method = self.method()
        self.method_stack.setCurrentWidget(self._method_pages[method])
        if method is AuthMethod.TOKEN:
            self._show_token_status()
        self.device_box.setVisible(False)
        self._inputs_changed()

    def _on_secret_mode(self) -> None:
        secret = self.secret_radio.isChecked()
        for w in (self.secret_label, self.secret_edit, self.remember_check):
            w.setVisible(secret)
        for w in (self.cert_label, self.cert_row):
            w.setVisible(not secret)
        self._inputs_changed()

    def _refresh_secret_placeholder(self) -> None:
        self.secret_edit.setPlaceholderText(
            "Stored in the OS keyring: leave empty to use it"
            if self._secret_remembered()
            else "Client secret"
        )

    def _show_token_status(self) -> None:
        value = self.dialog.services.environ.get(TOKEN_ENV, "").strip()
        if value:
            self.token_status.setText(
                f"{TOKEN_ENV} is set ({len(value)} characters). "
                "The token is used as is, and never saved or shown."
            )
        else:
            self.token_status.setText(
                f"{TOKEN_ENV} is not set. Set it to an ARM access token (for example the output of "
                "az account get-access-token --query accessToken -o tsv) before starting fcdesk."
            )

    def _inputs_changed(self, *_: object) -> None:
        self._refresh_secret_placeholder()
        problem = self.input_problem()
        self.hint_label.setText(problem or "")
        self.sign_in_button.setEnabled(problem is None and not self._busy)
        if self._identity is not None and self._signed_in_with != self._key():
            # The inputs no longer match the sign-in: sign in again before going on.
            self._identity = None
            self.cache_label.setText("")
            self.status_label.setText("The settings changed: sign in again.")
            self.completeChanged.emit()

    def _on_return(self) -> None:
        if self._identity is None and self.sign_in_button.isEnabled():
            self.sign_in_button.click()

    def _pick_file(self, edit: QLineEdit, title: str, filters: str) -> None:
        start = str(Path(edit.text()).expanduser().parent) if edit.text() else ""
        dialog = QFileDialog(self, title, start, filters)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(edit.setText)
        dialog.open()

    # -------------------------------------------------------------------------------- sign-in

    @property
    def identity(self) -> Identity | None:
        return self._identity

    @property
    def busy_now(self) -> bool:
        return self._busy

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self._identity is not None and not self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        for w in (
            self.cloud_combo,
            self.custom_box,
            self.tenant_edit,
            self.other_tenants_check,
            self.method_combo,
            self.method_stack,
        ):
            w.setEnabled(not busy)
        self.sign_in_button.setEnabled(not busy and self.input_problem() is None)
        if busy:
            self.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.completeChanged.emit()

    @asyncSlot()
    async def sign_in(self) -> None:
        """Sign in with the inputs shown; the page stays open and editable on failure."""
        if self._busy:
            return
        problem = self.input_problem()
        if problem is not None:
            self.status_label.setText(problem)
            return
        choice = self.current_choice()
        secret = (
            self.secret_edit.text()
            if choice.method is AuthMethod.SP and self.secret_radio.isChecked()
            else ""
        )
        self._task = asyncio.current_task()
        self._identity = None
        self.cache_label.setText("")
        self.device_box.setVisible(False)
        self.status_label.setText("Signing in…")
        self._set_busy(True)
        failure: str | None = None
        try:
            await self.dialog.discard_session()
            if self.dialog.services.prepare is not None:
                await self.dialog.services.prepare()
            session = await self._new_session(choice, secret)
            self.dialog.adopt_session(session)
            identity = await session.sign_in(
                choice.sign_in_options(), on_device_code=self.dialog.deviceCodeReceived.emit
            )
        except asyncio.CancelledError:
            failure = "cancelled"
            self.status_label.setText("Sign-in cancelled.")
            await self._quietly_discard()
        except Exception as exc:  # noqa: BLE001 - shown as plain text; the page stays open to fix the input
            log.info("sign-in failed: %s", type(exc).__name__)
            failure = _error_text(exc)
            self.status_label.setText(f"Sign-in failed: {failure}")
            await self._quietly_discard()
        finally:
            self._task = None
            self._set_busy(False)
            self.device_box.setVisible(False)  # the code is used up, whatever happened
        if failure is not None:
            self.dialog.signInFailed.emit(failure)
            return
        self.secret_edit.clear()  # it is in the keyring (or the session) now; never kept in the widget
        self._signed_in_with = self._key()
        self._identity = identity
        self.status_label.setText(f"Signed in as {identity.principal} (tenant {identity.tenant_id}).")
        self.cache_label.setText(f"Token cache: {identity.token_cache}")
        self.completeChanged.emit()
        self.dialog.signedIn.emit(identity)

    async def _new_session(self, choice: SignInChoice, secret: str) -> LiveSession:
        """A session for this attempt. A typed secret goes to the keyring (remembered; the session
        reads it from there) or to this session alone; nowhere else."""
        services = self.dialog.services
        if not secret:
            return services.session_factory()
        if choice.remember_secret:
            if services.store_secret is None:
                raise RuntimeError("No OS keyring is available to remember the secret.")
            await services.store_secret(choice.tenant, choice.client_id, secret)
            return services.session_factory()
        return services.session_factory(secret=secret)

    async def _quietly_discard(self) -> None:
        try:
            await self.dialog.discard_session()
        except Exception:  # noqa: BLE001 - closing a failed session must not hide the real error
            log.debug("closing a failed session failed", exc_info=True)

    def cancel_sign_in(self) -> None:
        if self._task is not None and not self._task.done():
            self.cancel_button.setEnabled(False)
            self._task.cancel()

    # -------------------------------------------------------------------------------- device code

    def show_device_code(self, code: DeviceCode) -> None:
        """Show the device-code URL and code (selectable plain text) with a Copy button."""
        self.device_url.setText(code.url)
        self.device_code.setText(code.code)
        self.device_message.setText(code.message)
        self.device_box.setVisible(True)
        self.copy_code_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def copy_device_code(self) -> None:
        QGuiApplication.clipboard().setText(self.device_code.text())
        self.copy_code_button.setText("Copied")


# ------------------------------------------------------------------------------------ page 2


class SubscriptionsPage(QWizardPage):
    """Subscriptions of the signed-in identity as checkboxes, filtered, all/none; at least one."""

    def __init__(self, wizard: SignInDialog) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setTitle("Subscriptions")
        self.setSubTitle("Choose the subscriptions to read. Your choice is remembered for the next sign-in.")
        self._loaded = False
        self._busy = False
        self._tenants: dict[str, str] = {}
        self._task: asyncio.Task[Any] | None = None
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("subscriptionSearch")
        self.filter_edit.setPlaceholderText("Filter by name or ID")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter subscriptions")
        self.all_button = QPushButton("Select &all", self)
        self.none_button = QPushButton("Select &none", self)
        top.addWidget(_form_label("&Filter:", self.filter_edit))
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.all_button)
        top.addWidget(self.none_button)
        lay.addLayout(top)
        self.list = QListWidget(self)
        self.list.setObjectName("subscriptionList")
        self.list.setAccessibleName("Subscriptions")
        self.list.setUniformItemSizes(True)
        lay.addWidget(self.list, 1)
        bottom = QHBoxLayout()
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(140)
        self.busy.setVisible(False)
        self.count_label = _plain(wrap=False, muted=True)
        self.count_label.setObjectName("subscriptionCount")
        self.status_label = _plain()
        self.status_label.setObjectName("subscriptionStatus")
        self.retry_button = QPushButton("&Retry", self)
        self.retry_button.setVisible(False)
        bottom.addWidget(self.busy)
        bottom.addWidget(self.count_label)
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.retry_button)
        lay.addLayout(bottom)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.all_button.clicked.connect(lambda: self.set_all_visible(True))
        self.none_button.clicked.connect(lambda: self.set_all_visible(False))
        self.list.itemChanged.connect(lambda _item: self._checked_changed())
        self.retry_button.clicked.connect(self.load)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        if not self._loaded and not self._busy:
            self.load()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override (Back pressed)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._loaded = False
        self.list.clear()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self._loaded and not self._busy and bool(self.checked_ids())

    @property
    def loaded(self) -> bool:
        return self._loaded

    @asyncSlot()
    async def load(self) -> None:
        session = self.dialog.session
        account = self.dialog.account_page
        identity = account.identity
        if session is None or identity is None or self._busy:
            return
        self._task = asyncio.current_task()
        self._busy = True
        self.busy.setVisible(True)
        self.retry_button.setVisible(False)
        self.status_label.setText("Listing subscriptions…")
        self.completeChanged.emit()
        choice = account.current_choice()
        # By id: subscriptions carry their tenant's id, never the domain the user may have typed.
        home = identity.tenant_id or choice.tenant
        problems: list[str] = []
        tenants: list[Tenant] = []
        try:
            if choice.other_tenants:
                subs = await session.subscriptions(home)
                subs, tenants, problems = await self._other_tenants(session, home, subs)
            else:  # the tenant's name (for the title bar) is a nicety: asked for alongside
                subs, tenants = await asyncio.gather(session.subscriptions(home), self._tenant_names(session))
        except asyncio.CancelledError:
            self.status_label.setText("Cancelled.")
            return
        except Exception as exc:  # noqa: BLE001 - shown as plain text with a Retry button
            self.status_label.setText(f"Could not list subscriptions: {_error_text(exc)}")
            self.retry_button.setVisible(True)
            return
        finally:
            self._task = None
            self._busy = False
            self.busy.setVisible(False)
            self.completeChanged.emit()
        self._tenants = {
            t.tenant_id.lower(): t.display_name or t.default_domain or t.tenant_id for t in tenants
        }
        self.fill(subs)
        if problems:
            self.status_label.setText(" ".join(problems))
        self.dialog.subscriptionsLoaded.emit(len(subs))

    @staticmethod
    async def _tenant_names(session: LiveSession) -> list[Tenant]:
        try:
            return await session.tenants()
        except Exception:  # noqa: BLE001 - names only; the ids still work
            log.debug("listing tenants failed", exc_info=True)
            return []

    async def _other_tenants(
        self, session: LiveSession, home: str, subs: list[SubscriptionChoice]
    ) -> tuple[list[SubscriptionChoice], list[Tenant], list[str]]:
        """Add the subscriptions of every other tenant the identity can reach (opted in)."""
        try:
            tenants = await session.tenants()
        except Exception as exc:  # noqa: BLE001 - the home tenant's subscriptions are still shown
            return subs, [], [f"Could not list other tenants: {_error_text(exc)}"]
        seen = {s.subscription_id.lower() for s in subs}
        problems: list[str] = []
        for tenant in tenants:
            if tenant.tenant_id.lower() == home.lower():
                continue
            try:
                more = await session.subscriptions(tenant.tenant_id)
            except Exception as exc:  # noqa: BLE001 - one tenant refusing must not hide the others
                problems.append(f"Tenant {tenant.display_name or tenant.tenant_id}: {_error_text(exc)}")
                continue
            subs = subs + [s for s in more if s.subscription_id.lower() not in seen]
            seen.update(s.subscription_id.lower() for s in more)
        return subs, tenants, problems

    def fill(self, subs: list[SubscriptionChoice]) -> None:
        remembered = self.dialog.remembered
        wanted = {s.lower() for s in remembered.subscriptions} if remembered else set()
        available = {s.subscription_id.lower() for s in subs}
        use_remembered = bool(wanted & available)
        several_tenants = len({s.tenant_id.lower() for s in subs}) > 1
        self.list.blockSignals(True)
        self.list.clear()
        for sub in sorted(subs, key=lambda s: (s.display_name.lower(), s.subscription_id)):
            text = f"{sub.display_name}  ({sub.subscription_id})"
            if several_tenants:
                text += f"  · tenant {self._tenants.get(sub.tenant_id.lower(), sub.tenant_id)}"
            enabled = sub.state.lower() in ("enabled", "")
            if not enabled:
                text += f"  · {sub.state}"
            item = QListWidgetItem(text)
            item.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
            )
            item.setData(Qt.ItemDataRole.UserRole, sub)
            item.setToolTip(sub.subscription_id)
            checked = sub.subscription_id.lower() in wanted if use_remembered else enabled
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._loaded = True
        if not subs:
            self.status_label.setText(
                "This sign-in sees no subscriptions. Check the tenant, or ask for Reader access."
            )
        else:
            self.status_label.setText("")
        self._apply_filter(self.filter_edit.text())
        self._checked_changed()

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def checked_ids(self) -> list[str]:
        return [
            item.data(Qt.ItemDataRole.UserRole).subscription_id
            for item in self.items()
            if item.checkState() == Qt.CheckState.Checked
        ]

    def checked(self) -> list[SubscriptionChoice]:
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in self.items()
            if item.checkState() == Qt.CheckState.Checked
        ]

    def set_all_visible(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.list.blockSignals(True)
        for item in self.items():
            if not item.isHidden():
                item.setCheckState(state)
        self.list.blockSignals(False)
        self._checked_changed()

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for item in self.items():
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def _checked_changed(self) -> None:
        total = self.list.count()
        n = len(self.checked_ids())
        self.count_label.setText(f"{n} of {total} selected" if total else "")
        self.completeChanged.emit()


# ------------------------------------------------------------------------------------ the wizard


class SignInDialog(PlainWizard):
    """Signals:
    signedIn(object): an :class:`~fcdesk.azure.contract.Identity` (page 1 done).
    signInFailed(str): a sign-in failed or was cancelled (plain text; "cancelled").
    subscriptionsLoaded(int): the subscription list arrived (its length).
    deviceCodeReceived(object): the session reported a :class:`~fcdesk.azure.contract.DeviceCode`.
    sessionDiscarded(): a session the window will not use was closed.

    After ``accepted``, :meth:`take_session` hands the signed-in session to the caller and
    :attr:`choice` is the (remembered) choice.
    """

    signedIn = Signal(object)
    signInFailed = Signal(str)
    subscriptionsLoaded = Signal(int)
    deviceCodeReceived = Signal(object)
    sessionDiscarded = Signal()

    def __init__(self, services: SignInServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signInDialog")
        self.setWindowTitle("Sign in to Azure")
        self.setTitleFormat(Qt.TextFormat.PlainText)
        self.setSubTitleFormat(Qt.TextFormat.PlainText)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.setButtonText(QWizard.WizardButton.FinishButton, "OK")
        self.services = services
        self.remembered = remembered_choice(services.settings)
        self._session: LiveSession | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        self.choice: SignInChoice | None = None
        self.account_page = AccountPage(self)
        self.subscriptions_page = SubscriptionsPage(self)
        self.setPage(PageId.ACCOUNT, self.account_page)
        self.setPage(PageId.SUBSCRIPTIONS, self.subscriptions_page)
        self.setStartId(PageId.ACCOUNT)
        self.deviceCodeReceived.connect(self.account_page.show_device_code)
        if self.remembered is not None:
            self.account_page.apply_choice(self.remembered)
        self.resize(640, 560)


    # -------------------------------------------------------------------------------- session

    @property
    def session(self) -> LiveSession | None:
        return self._session

    @property
    def identity(self) -> Identity | None:
        return self.account_page.identity

    def adopt_session(self, session: LiveSession) -> None:
        self._session = session

    async def discard_session(self) -> None:
        """Close the dialog's session (a failed or abandoned attempt)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            self.sessionDiscarded.emit()

    def take_session(self) -> LiveSession | None:
        """Hand the signed-in session over (the dialog no longer closes it)."""
        session, self._session = self._session, None
        return session

    @property
    def idle(self) -> bool:
        """No sign-in, listing or closing is in flight (tests wait for this after closing)."""
        return (
            not self.account_page.busy_now
            and self.account_page._task is None
            and self.subscriptions_page._task is None
            and not self._closing
        )

    # -------------------------------------------------------------------------------- finishing

    def accept(self) -> None:
        page = self.subscriptions_page
        identity = self.identity
        if identity is None or not page.checked_ids():
            return
        choice = self.account_page.current_choice()
        choice.subscriptions = page.checked_ids()
        choice.subscription_tenants = {
            s.subscription_id.lower(): s.tenant_id for s in page.checked() if s.tenant_id
        }
        choice.tenant_name = self._tenant_name(identity)
        self.choice = choice
        remember_choice(self.services.settings, choice)
        super().accept()

    def _tenant_name(self, identity: Identity) -> str:
        """The signed-in tenant's display name when known, else what the user typed, else its id."""
        tenants = self.subscriptions_page._tenants
        return (
            tenants.get(identity.tenant_id.lower(), "")
            or self.account_page.current_choice().tenant
            or identity.tenant_id
        )

    def reject(self) -> None:
        self.account_page.cancel_sign_in()
        task = self.subscriptions_page._task
        if task is not None and not task.done():
            task.cancel()
        if self._session is not None:
            closing = asyncio.ensure_future(self.discard_session())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        super().reject()


def open_sign_in(
    services: SignInServices,
    parent: QWidget | None,
    on_done: Callable[[SignInDialog], None],
) -> SignInDialog:
    """Open the wizard window-modally (``open()``, never ``exec()``); ``on_done`` runs when it is accepted."""
    dialog = SignInDialog(services, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    dialog.accepted.connect(lambda: on_done(dialog))
    dialog.open()
    return dialog


__all__ = [
    "NON_INTERACTIVE",
    "SETTINGS_KEY",
    "AccountPage",
    "PageId",
    "SignInChoice",
    "SignInDialog",
    "SignInServices",
    "SubscriptionsPage",
    "open_sign_in",
    "remember_choice",
    "remembered_choice",
]
