"""Azure clouds: where ARM lives, which token scope it wants, who signs you in, where the portal is.

Pure data (no azure.* import), so the GUI can list clouds without loading the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Cloud:
    name: str  #: public | usgov | china | custom
    label: str
    arm_endpoint: str  #: e.g. https://management.azure.com/ (trailing slash)
    token_scope: str  #: e.g. https://management.azure.com/.default
    authority_host: str  #: e.g. login.microsoftonline.com (host only)
    portal_url: str  #: e.g. https://portal.azure.com
    ca_file: str | None = None  #: a CA bundle for a private CA (custom clouds, the test emulator)

    def with_ca(self, ca_file: str | None) -> Cloud:
        return replace(self, ca_file=ca_file)


PUBLIC = Cloud(
    "public", "Azure (public)", "https://management.azure.com/", "https://management.azure.com/.default",
    "login.microsoftonline.com", "https://portal.azure.com",
)
USGOV = Cloud(
    "usgov", "Azure US Government", "https://management.usgovcloudapi.net/",
    "https://management.core.usgovcloudapi.net/.default", "login.microsoftonline.us", "https://portal.azure.us",
)
CHINA = Cloud(
    "china", "Azure China (21Vianet)", "https://management.chinacloudapi.cn/",
    "https://management.chinacloudapi.cn/.default", "login.chinacloudapi.cn", "https://portal.azure.cn",
)
CLOUDS: dict[str, Cloud] = {c.name: c for c in (PUBLIC, USGOV, CHINA)}


def custom_cloud(
    arm_endpoint: str,
    *,
    token_scope: str | None = None,
    authority_host: str = "login.microsoftonline.com",
    portal_url: str = "https://portal.azure.com",
    ca_file: str | None = None,
) -> Cloud:
    """A custom (Azure Stack, private, or emulated) cloud. The scope defaults to ``<endpoint>/.default``."""
    endpoint = arm_endpoint if arm_endpoint.endswith("/") else arm_endpoint + "/"
    return Cloud(
        "custom", f"Custom ({endpoint})", endpoint, token_scope or endpoint + ".default", authority_host, portal_url, ca_file
    )


def cloud_named(name: str) -> Cloud:
    try:
        return CLOUDS[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r}: choose one of {', '.join(CLOUDS)} or give --arm-endpoint") from None
