"""Links into the Azure portal of the cloud the data came from (pure: no Qt, no Azure SDK).

Clouds are named as in ``SnapshotMeta.cloud``: ``public``, ``usgov``, ``china`` or ``custom``. The
portal addresses are those of ``fcdesk.azure.clouds`` (a test keeps the two in step). fcdesk does not
know the portal of a custom cloud (Azure Stack, a private cloud, an emulator), so it builds no link
there and says why; a link Azure itself sent (an assessment's ``azurePortalUri``, an alert's
``alertUri``) is used as it is in the clouds fcdesk knows.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The Azure portal of each cloud fcdesk knows, by ``SnapshotMeta.cloud`` name.
PORTALS: dict[str, str] = {
    "public": "https://portal.azure.com",
    "usgov": "https://portal.azure.us",
    "china": "https://portal.azure.cn",
}

CUSTOM_CLOUD_REASON = (
    "No Azure portal link: this data comes from a custom cloud, whose portal fcdesk does not know."
)
NO_RESOURCE_REASON = "No Azure portal link: Azure named no resource for it."


@dataclass(frozen=True, slots=True)
class PortalLink:
    """A portal address, or why there is none (exactly one of the two is non-empty)."""

    url: str = ""
    reason: str = ""


def portal_base(cloud: str) -> str | None:
    """The portal of ``cloud`` (``https://portal.azure.us``), or None for a custom or unknown cloud."""
    return PORTALS.get(cloud.strip().lower())


def no_portal_reason(cloud: str) -> str:
    """Why a cloud has no portal link (one plain sentence)."""
    name = cloud.strip().lower()
    if name in ("", "custom"):
        return CUSTOM_CLOUD_REASON
    return f"No Azure portal link: fcdesk does not know the portal of the cloud '{cloud}'."


def resource_link(resource_id: str, cloud: str, tenant_id: str = "") -> PortalLink:
    """The resource's page in the cloud's portal, in the directory ``tenant_id`` when given."""
    base = portal_base(cloud)
    if base is None:
        return PortalLink(reason=no_portal_reason(cloud))
    if not resource_id.strip():
        return PortalLink(reason=NO_RESOURCE_REASON)
    rid = resource_id if resource_id.startswith("/") else "/" + resource_id
    return PortalLink(f"{base}/#@{tenant_id.strip()}/resource{rid}")


def item_link(own_link: str, resource_id: str, cloud: str, tenant_id: str = "") -> PortalLink:
    """The link Azure sent with an item when it points into the cloud's portal, else its resource's
    page there.

    A link anywhere else (another host, ``javascript:``...) is never used: a snapshot is a file that
    may come from anyone, and the GUI opens this link in the browser. No link at all in a custom or
    unknown cloud: fcdesk cannot vouch for a portal there.
    """
    base = portal_base(cloud)
    if base is None:
        return PortalLink(reason=no_portal_reason(cloud))
    own = own_link.strip()
    if own.startswith(base + "/"):
        return PortalLink(own)
    return resource_link(resource_id, cloud, tenant_id)
