"""Azure RBAC for the ARM emulator: a few built-in role definitions and ARM's action matching.

A :class:`~.scenario.Scenario` holds *grants*, ``(principal or None, scope, role name)`` triples (None:
every caller, including tokens the emulator did not mint). A caller holds a role at a scope when a
grant names it (or None) at that scope or above it. ``GET {scope}/providers/Microsoft.Authorization/
permissions`` lists the permissions of each role held there; every write (PUT, PATCH, DELETE, POST
action) is refused with 403 ``AuthorizationFailed`` unless one of them allows the request's action.

Role definitions are copied from Microsoft's built-in role JSON (``az role definition list``, as
published on learn.microsoft.com, "Azure built-in roles"), as of late 2025; "Security Admin" is written
from that documentation without a stored copy to check it against (treat it as approximate).
Conditions (ABAC) are not emulated: "Azure AI Account Owner" may really write role assignments only
for the "Azure AI User" role, here its ``roleAssignments/write`` is unconditional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, slots=True)
class Role:
    """The ``permissions[0]`` of a built-in role definition."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        """Whether the role grants ``action`` (in ``actions`` and not in ``notActions``)."""
        return any(matches(p, action) for p in self.actions) and not any(
            matches(p, action) for p in self.not_actions
        )

    def permission(self) -> dict[str, list[str]]:
        """The role as one item of the permissions list (``Permission`` in the REST API)."""
        return {
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "dataActions": list(self.data_actions),
            "notDataActions": list(self.not_data_actions),
        }


#: Built-in roles by name (Azure's spelling; looked up case-insensitively through :func:`role`).
ROLES: dict[str, Role] = {
    "Owner": Role(("*",)),
    "Contributor": Role(
        ("*",),
        (
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ),
    ),
    "Reader": Role(("*/read",)),
    "Resource Policy Contributor": Role(
        (
            "*/read",
            "Microsoft.Authorization/policyassignments/*",
            "Microsoft.Authorization/policydefinitions/*",
            "Microsoft.Authorization/policyexemptions/*",
            "Microsoft.Authorization/policysetdefinitions/*",
            "Microsoft.PolicyInsights/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        )
    ),
    # No Microsoft.PolicyInsights/*: a Security Admin can assign policies but not trigger a scan.
    "Security Admin": Role(
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Authorization/policyAssignments/*",
            "Microsoft.Authorization/policyDefinitions/*",
            "Microsoft.Authorization/policyExemptions/*",
            "Microsoft.Authorization/policySetDefinitions/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.operationalInsights/workspaces/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*",
            "Microsoft.IoTSecurity/*",
            "Microsoft.IoTFirmwareDefense/*",
            "Microsoft.Support/*",
        )
    ),
    # The notActions (added in December 2025) name "raiPolicy", not "accounts/raiPolicies": as
    # published they do not match the RAI policy write action, so the role can still edit guardrails.
    "Cognitive Services Contributor": Role(
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.CognitiveServices/*",
            "Microsoft.Features/features/read",
            "Microsoft.Features/providers/features/read",
            "Microsoft.Features/providers/features/register/action",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Insights/logDefinitions/read",
            "Microsoft.Insights/metricdefinitions/read",
            "Microsoft.Insights/metrics/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/deployments/operations/read",
            "Microsoft.Resources/subscriptions/operationresults/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ),
        (
            "Microsoft.CognitiveServices/raiPolicy/write",
            "Microsoft.CognitiveServices/raiPolicy/delete",
            "Microsoft.CognitiveServices/raiExternalSafetyProviders/write",
            "Microsoft.CognitiveServices/raiExternalSafetyProviders/delete",
        ),
    ),
    "Azure AI Account Owner": Role(
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "Microsoft.CognitiveServices/*",
            "Microsoft.Features/features/read",
            "Microsoft.Features/providers/features/read",
            "Microsoft.Features/providers/features/register/action",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Insights/logDefinitions/read",
            "Microsoft.Insights/metricdefinitions/read",
            "Microsoft.Insights/metrics/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/deployments/operations/read",
            "Microsoft.Resources/subscriptions/operationresults/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        )
    ),
}
_BY_LOWER = {name.lower(): name for name in ROLES}


def role_name(name: str) -> str:
    """Azure's spelling of a built-in role name given in any case (ValueError if unknown)."""
    found = _BY_LOWER.get(name.strip().lower())
    if found is None:
        raise ValueError(f"unknown role {name!r}; the emulator knows {', '.join(ROLES)}")
    return found


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in action_pattern.split("*")), re.IGNORECASE)


def matches(action_pattern: str, action: str) -> bool:
    """ARM's action matching: case-insensitive, ``*`` stands for any text (``/`` included)."""
    return _pattern(action_pattern).fullmatch(action) is not None


def covers(grant_scope: str, target: str) -> bool:
    """Whether a grant at ``grant_scope`` applies to ``target`` (both idkeys; ``""`` is the root)."""
    return not grant_scope or target == grant_scope or target.startswith(grant_scope + "/")
