"""The demo tenant: a deterministic, realistic capture that serves the first launch and the tests.

``generate(scale, seed)`` returns the ``SnapshotMeta`` and ``RawRecord`` list of a made-up tenant,
"Contoso AI (demo)", in the exact wire shapes Azure sends (see ``shared/azure-examples``). Nothing
here reads the clock, the network or the file system, and every random choice comes from one
``random.Random(seed)``: the same arguments always give byte-identical JSON bodies.

The story at scale 1 (each *copy* below is repeated ``scale`` times, names of copies beyond the
first get a numeric suffix: "Contoso AI Production 2", ``contoso-foundry-prod-2``):

* **Contoso AI Production** (Defender for AI Standard, Purview sharing on): a Foundry resource whose
  deployments all use strict or standard custom guardrails (its guardrail policy is *Compliant*), an
  Azure OpenAI resource with a streaming guardrail, an older-api guardrail (``allowedContentLevel``,
  mode ``Deferred``) and deployments on ``Microsoft.DefaultV2`` or on no guardrail at all, and a
  second Foundry resource with a guardrail carrying an unknown filter ("Ungrounded Material").
  A subscription-wide "prompt shields" policy has *exceptions* (``notScopes``: a resource group and
  one deployment) and *Violations detected*.
* **Contoso AI Development** (Standard, Purview off): annotate-only guardrails, a guardrail with the
  Jailbreak shield off (a detected jailbreak alert hit a deployment on it), ``Microsoft.Default``,
  an active abuse penalty, and a development baseline policy with *Violations detected*. One
  deployment's guardrail was tightened after Azure's last scan: Azure still says NonCompliant while
  the local evaluation passes (the one deliberate disagreement per copy).
* **Contoso Research Sandbox** (Free tier): every deployment uses a guardrail whose every filter is
  ``enabled: false``, so the subscription has no content filtering at all; its guardrail policy was
  created by fcdesk minutes before the capture and is *Pending evaluation* (no states). A Foundry
  project is named ``Red team & eval <sandbox>`` and that policy's display name holds ``&`` and
  ``<…>`` too: names people really type, which must render as plain text.

Policy states are not hand-written: they are computed from the other records with
:func:`fcdesk.core.policy.evaluate` through an :class:`~fcdesk.core.inventory.Inventory`, so Azure's
verdicts agree with fcdesk's everywhere except the one deliberate stale state. Per evaluated
(deployment, assignment) there is one summary record with an empty ``policyDefinitionReferenceId``
carrying the overall state, plus one NonCompliant record per failing reference.

Defender alerts name the model deployment they concern in ``extendedProperties`` under
:data:`ALERT_DEPLOYMENT_KEY` (``"Deployment name"``).

Writing the shipped demo file is the store's job (``fcdesk.core`` never imports the store)::

    from fcdesk.core.demo import generate
    write_snapshot(path, *generate())
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fcdesk.core.guardrails import COMPLETION, PROMPT, Severity
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import idkey
from fcdesk.core.normalize import policy_state_key
from fcdesk.core.policy import (
    CONTROL_PARAMS,
    EFFECT_PARAM,
    FCDESK_METADATA_KEY,
    FCDESK_METADATA_VALUE,
    INITIATIVE_DISPLAY_NAME,
    INITIATIVE_ID,
    INITIATIVE_NAME,
    MODE_PARAM,
    MODE_REFERENCE,
    ControlRequirement,
    minimum,
    parameters_for,
)
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source

__all__ = [
    "ALERT_DEPLOYMENT_KEY",
    "CAPTURED_AT",
    "DEMO_SCALE",
    "DEMO_SEED",
    "DEMO_TENANT_ID",
    "DEMO_TENANT_NAME",
    "generate",
]

DEMO_SCALE = 1  #: the scale of the shipped ``resources/demo.fcsnap``
DEMO_SEED = 0  #: the seed of the shipped ``resources/demo.fcsnap``
CAPTURED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  #: the demo's fixed "as of" time
DEMO_TENANT_ID = "8d4e2f61-3b7a-4c95-a0e1-6f2b9c7d5e43"
DEMO_TENANT_NAME = "Contoso AI (demo)"
#: ``extendedProperties`` key of a Defender alert that names the model deployment it concerns.
ALERT_DEPLOYMENT_KEY = "Deployment name"

_DEPLOYMENT_TYPE = "Microsoft.CognitiveServices/accounts/deployments"
_ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
_CS = "/providers/Microsoft.CognitiveServices/accounts/"
_PORTAL = "https://portal.azure.com/#blade/Microsoft_Azure_Security"
_HARMS = ("Hate", "Sexual", "Violence", "Selfharm")

# ------------------------------------------------------------------------------------- template
# One *copy* of the demo tenant. Indexes into these tuples tie the pieces together.


@dataclass(frozen=True, slots=True)
class _Sub:
    display_name: str
    quota: str  #: subscriptionPolicies.quotaId
    tier: str  #: Defender "AI" pricing tier
    evidence: bool  #: AIPromptEvidence extension
    purview: bool  #: AIPromptSharingWithPurview extension
    tags: tuple[tuple[str, str], ...]


_SUBS: tuple[_Sub, ...] = (
    _Sub("Contoso AI Production", "EnterpriseAgreement_2014-09-01", "Standard", True, True,
         (("environment", "production"), ("costCenter", "CC-4410"))),
    _Sub("Contoso AI Development", "EnterpriseAgreement_2014-09-01", "Standard", True, False,
         (("environment", "development"), ("costCenter", "CC-4420"))),
    _Sub("Contoso Research Sandbox", "MSDN_2014-09-01", "Free", False, False,
         (("environment", "sandbox"), ("owner", "ai-research"))),
)

#: (subscription index, name, location)
_RGS: tuple[tuple[int, str, str], ...] = (
    (0, "rg-foundry-prod-eastus2", "eastus2"),
    (0, "rg-openai-prod-sweden", "swedencentral"),
    (0, "rg-ai-shared-prod", "swedencentral"),
    (1, "rg-ai-dev", "eastus2"),
    (1, "rg-ai-experiments", "westus3"),
    (2, "rg-research-sandbox", "eastus2"),
    (2, "rg-redteam", "northcentralus"),
)


@dataclass(frozen=True, slots=True)
class _Acct:
    rg: int  #: index into _RGS
    name: str
    kind: str  #: AIServices | OpenAI
    location: str
    projects: tuple[tuple[str, str, str], ...]  #: (name, displayName, description)
    public_network: bool
    local_auth_disabled: bool
    diagnostics: bool
    private_link: bool
    cmk: str  #: Healthy | Unhealthy | NotApplicable (the CMK recommendation's status)
    defender: str  #: defenderForAISettings/Default state
    rai_monitor: bool = False
    abuse_penalty: bool = False


_ACCTS: tuple[_Acct, ...] = (
    _Acct(0, "contoso-foundry-prod", "AIServices", "eastus2", (
        ("customer-support-copilot", "Customer Support Copilot",
         "Agentic assistant for tier-1 support, grounded on the knowledge base."),
        ("claims-triage", "Claims Triage",
         "Classifies and routes insurance claims; reviewed by the model risk board."),
    ), False, True, True, True, "Unhealthy", "Enabled", rai_monitor=True),
    _Acct(1, "contoso-openai-prod", "OpenAI", "swedencentral", (),
          True, False, True, False, "Unhealthy", "Enabled"),
    _Acct(2, "contoso-foundry-prod-weu", "AIServices", "swedencentral", (
        ("knowledge-assistant", "Knowledge Assistant",
         "Retrieval-augmented Q&A over policy documents for EU staff."),
    ), False, True, False, True, "Healthy", "Enabled"),
    _Acct(3, "contoso-foundry-dev", "AIServices", "eastus2", (
        ("agent-playground", "Agent Playground", "Developers' scratch space for agent prototypes."),
        ("rag-prototype", "RAG Prototype", "Evaluates chunking and retrieval strategies."),
        ("prompt-evals", "Prompt Flow Evaluations", "Nightly groundedness and safety evaluations."),
    ), True, False, True, False, "NotApplicable", "Enabled", rai_monitor=True),
    _Acct(3, "contoso-openai-dev", "OpenAI", "eastus", (),
          True, False, False, False, "NotApplicable", "Enabled"),
    _Acct(4, "contoso-foundry-exp", "AIServices", "westus3", (
        ("fine-tuning-lab", "Fine-tuning Lab", "Fine-tuning experiments on open-weight models."),
    ), True, True, False, False, "NotApplicable", "Disabled", abuse_penalty=True),
    _Acct(5, "contoso-research-foundry", "AIServices", "eastus2", (
        ("redteam-eval", "Red team & eval <sandbox>",
         "Adversarial testing with filters off. <i>Never</i> point production traffic here."),
        ("safety-benchmarks", "Safety Benchmarks", "Runs public safety benchmarks against raw models."),
    ), True, False, False, False, "NotApplicable", "Disabled"),
    _Acct(6, "contoso-research-openai", "OpenAI", "northcentralus", (),
          True, False, False, False, "NotApplicable", "Disabled"),
)


_OnOff = tuple[bool, bool]  #: (enabled, blocking) of an on/off filter


def _flt(name: str, source: str, enabled: bool, blocking: bool, sev: str | None = None,
         sev_key: str = "severityThreshold") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "blocking": blocking, "enabled": enabled}
    if sev is not None:
        out[sev_key] = sev
    out["source"] = source
    return out


def _harms(
    enabled: bool, blocking: bool, sev: str, sev_key: str = "severityThreshold"
) -> list[dict[str, Any]]:
    return [_flt(h, s, enabled, blocking, sev, sev_key) for h in _HARMS for s in (PROMPT, COMPLETION)]


def _switches(
    jailbreak: _OnOff | None,
    indirect: _OnOff | None,
    spotlight: _OnOff | None,
    prot_text: _OnOff | None,
    prot_code: _OnOff | None,
    profanity: _OnOff | None,
) -> list[dict[str, Any]]:
    """On/off filters; ``(enabled, blocking)`` or None to leave the filter out."""
    spec = (
        ("Jailbreak", PROMPT, jailbreak),
        ("Indirect Attack", PROMPT, indirect),
        ("Indirect Attack Spotlighting", PROMPT, spotlight),
        ("Protected Material Text", COMPLETION, prot_text),
        ("Protected Material Code", COMPLETION, prot_code),
        ("Profanity", PROMPT, profanity),
        ("Profanity", COMPLETION, profanity),
    )
    return [_flt(n, s, v[0], v[1]) for n, s, v in spec if v is not None]


_ON, _ANN, _OFF = (True, True), (True, False), (False, False)  # (enabled, blocking)


@dataclass(frozen=True, slots=True)
class _Rail:
    name: str
    mode: str
    base: str
    filters: tuple[dict[str, Any], ...]
    blocklists: tuple[dict[str, Any], ...] = ()
    modern: bool = True  #: False: an older api-version's shape (no ``type``, no blocklists)
    modified_at: str = ""  #: systemData.lastModifiedAt, when the story needs it


_RAILS: dict[str, _Rail] = {
    r.name: r
    for r in (
        # Everything blocks at Low, every shield on, profanity both ways, two custom blocklists.
        _Rail("Contoso-Strict", "Default", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Low") + _switches(_ON, _ON, _ON, _ON, _ON, _ON)),
              ({"blocklistName": "contoso-banned-terms", "blocking": True, "source": PROMPT},
               {"blocklistName": "contoso-banned-terms", "blocking": True, "source": COMPLETION})),
        # Microsoft's defaults plus indirect attacks; spotlighting off, profanity annotated.
        _Rail("Contoso-Standard", "Default", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Medium") + _switches(_ON, _ON, _OFF, _ON, _ON, _ANN))),
        _Rail("Contoso-Streaming", "Asynchronous_filter", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Medium") + _switches(_ON, _ON, _OFF, _ON, _ON, _ANN))),
        # An older api-version: allowedContentLevel, mode Deferred, harms only, one turned off.
        _Rail("Legacy-2023", "Deferred", "Microsoft.Default",
              tuple(
                  _flt(h, s, not (h == "Sexual" and s == PROMPT), True, "High", "allowedContentLevel")
                  for h in _HARMS for s in (PROMPT, COMPLETION)
              ), modern=False),
        # An unknown filter name that must be kept and shown; no indirect-attack shield.
        _Rail("Preview-Groundedness", "Default", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Medium") + _switches(_ON, None, None, _ON, _ANN, None)
                    + [_flt("Ungrounded Material", COMPLETION, True, False)])),
        # Annotate only: everything detected, nothing blocked, streaming.
        _Rail("Eval-AnnotateOnly", "Asynchronous_filter", "Microsoft.DefaultV2",
              tuple(_harms(True, False, "Low") + _switches(_ANN, _ANN, _ANN, _ANN, _ANN, _ANN))),
        # Harm filters on, but the jailbreak and indirect-attack shields explicitly off.
        _Rail("Dev-NoJailbreak", "Default", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Medium") + _switches(_OFF, _OFF, None, _ON, _ON, None))),
        # Tightened at 08:05 (jailbreak now blocking), after Azure's 06:xx scan: the stale state.
        _Rail("Dev-Hardened", "Default", "Microsoft.DefaultV2",
              tuple(_harms(True, True, "Medium") + _switches(_ON, _ON, _ON, _ON, _ON, _ON)),
              modified_at="2026-11-20T08:05:12.4471234Z"),
        # No content filtering at all: every filter explicitly off.
        _Rail("Sandbox-NoFiltering", "Default", "Microsoft.DefaultV2",
              tuple(_harms(False, False, "High") + _switches(_OFF, _OFF, _OFF, _OFF, _OFF, _OFF))),
        _Rail("RedTeam-Unfiltered", "Asynchronous_filter", "Microsoft.DefaultV2",
              tuple(_harms(False, False, "High") + _switches(_OFF, _OFF, _OFF, _OFF, _OFF, _OFF))),
    )
}

#: Guardrails defined on each account (by account index).
_ACCT_RAILS: tuple[tuple[str, ...], ...] = (
    ("Contoso-Strict", "Contoso-Standard"),
    ("Contoso-Streaming", "Legacy-2023"),
    ("Contoso-Standard", "Preview-Groundedness"),
    ("Contoso-Standard", "Eval-AnnotateOnly", "Dev-NoJailbreak", "Dev-Hardened"),
    ("Dev-NoJailbreak",),
    ("Eval-AnnotateOnly",),
    ("Sandbox-NoFiltering",),
    ("RedTeam-Unfiltered",),
)

#: model name → (version, format)
_MODELS: dict[str, tuple[str, str]] = {
    "gpt-4o": ("2024-11-20", "OpenAI"),
    "gpt-4o-mini": ("2024-07-18", "OpenAI"),
    "gpt-4.1": ("2025-04-14", "OpenAI"),
    "gpt-4.1-mini": ("2025-04-14", "OpenAI"),
    "o3-mini": ("2025-01-31", "OpenAI"),
    "o4-mini": ("2025-04-16", "OpenAI"),
    "gpt-5": ("2025-08-07", "OpenAI"),
    "gpt-35-turbo": ("0125", "OpenAI"),
    "text-embedding-3-large": ("1", "OpenAI"),
    "text-embedding-3-small": ("1", "OpenAI"),
    "text-embedding-ada-002": ("2", "OpenAI"),
    "DeepSeek-R1": ("1", "DeepSeek"),
    "Llama-3.3-70B-Instruct": ("5", "Meta"),
    "Phi-4": ("7", "Microsoft"),
    "Mistral-Large-2411": ("2", "Mistral AI"),
}


@dataclass(frozen=True, slots=True)
class _Dep:
    acct: int
    name: str
    model: str
    sku: str
    capacity: int
    rai: str | None  #: raiPolicyName; None: not set (the account default applies)
    version: str = ""  #: overrides _MODELS' version


_V2, _V1 = "Microsoft.DefaultV2", "Microsoft.Default"
_DEPS: tuple[_Dep, ...] = (
    _Dep(0, "gpt-4o", "gpt-4o", "GlobalStandard", 450, "Contoso-Strict"),
    _Dep(0, "gpt-4o-mini", "gpt-4o-mini", "GlobalStandard", 1000, "Contoso-Standard"),
    _Dep(0, "gpt-4.1", "gpt-4.1", "DataZoneStandard", 300, "Contoso-Strict"),
    _Dep(0, "o4-mini", "o4-mini", "GlobalStandard", 200, "Contoso-Standard"),
    _Dep(0, "text-embedding-3-large", "text-embedding-3-large", "Standard", 350, "Contoso-Standard"),
    _Dep(0, "gpt-5", "gpt-5", "GlobalStandard", 150, "Contoso-Strict"),
    _Dep(0, "DeepSeek-R1", "DeepSeek-R1", "GlobalStandard", 1, "Contoso-Strict"),
    _Dep(1, "gpt-4o-ptu", "gpt-4o", "ProvisionedManaged", 100, "Contoso-Streaming", "2024-08-06"),
    _Dep(1, "gpt-4o-mini", "gpt-4o-mini", "Standard", 240, _V2),
    _Dep(1, "gpt-35-turbo", "gpt-35-turbo", "Standard", 120, "Legacy-2023"),
    _Dep(1, "text-embedding-3-small", "text-embedding-3-small", "Standard", 350, None),
    _Dep(1, "gpt-4.1-mini", "gpt-4.1-mini", "DataZoneStandard", 500, "Contoso-Streaming"),
    _Dep(2, "gpt-4.1", "gpt-4.1", "GlobalStandard", 250, "Contoso-Standard"),
    _Dep(2, "Llama-3.3-70B-Instruct", "Llama-3.3-70B-Instruct", "GlobalStandard", 1, "Preview-Groundedness"),
    _Dep(2, "Phi-4", "Phi-4", "GlobalStandard", 1, _V2),
    _Dep(2, "Mistral-Large-2411", "Mistral-Large-2411", "GlobalStandard", 1, "Contoso-Standard"),
    _Dep(2, "gpt-4o-mini", "gpt-4o-mini", "GlobalStandard", 300, None),
    _Dep(3, "gpt-4o", "gpt-4o", "GlobalStandard", 100, "Dev-Hardened"),
    _Dep(3, "gpt-4o-mini", "gpt-4o-mini", "GlobalStandard", 200, "Eval-AnnotateOnly"),
    _Dep(3, "o3-mini", "o3-mini", "GlobalStandard", 50, "Dev-NoJailbreak"),
    _Dep(3, "gpt-4.1-mini", "gpt-4.1-mini", "GlobalStandard", 100, _V2),
    _Dep(3, "gpt-5", "gpt-5", "GlobalStandard", 50, "Contoso-Standard"),
    _Dep(3, "DeepSeek-R1", "DeepSeek-R1", "GlobalStandard", 1, "Eval-AnnotateOnly"),
    _Dep(3, "text-embedding-3-large", "text-embedding-3-large", "Standard", 120, None),
    _Dep(4, "gpt-4o", "gpt-4o", "Standard", 30, _V1, "2024-08-06"),
    _Dep(4, "gpt-4o-mini", "gpt-4o-mini", "Standard", 60, "Dev-NoJailbreak"),
    _Dep(4, "gpt-35-turbo", "gpt-35-turbo", "Standard", 30, _V1),
    _Dep(4, "text-embedding-ada-002", "text-embedding-ada-002", "Standard", 120, None),
    _Dep(5, "Phi-4", "Phi-4", "GlobalStandard", 1, "Eval-AnnotateOnly"),
    _Dep(5, "Llama-3.3-70B-Instruct", "Llama-3.3-70B-Instruct", "GlobalStandard", 1, _V2),
    _Dep(5, "Mistral-Large-2411", "Mistral-Large-2411", "GlobalStandard", 1, None),
    _Dep(5, "o4-mini", "o4-mini", "GlobalStandard", 40, "Eval-AnnotateOnly"),
    _Dep(6, "gpt-4o", "gpt-4o", "GlobalStandard", 50, "Sandbox-NoFiltering"),
    _Dep(6, "gpt-4.1", "gpt-4.1", "GlobalStandard", 50, "Sandbox-NoFiltering"),
    _Dep(6, "DeepSeek-R1", "DeepSeek-R1", "GlobalStandard", 1, "Sandbox-NoFiltering"),
    _Dep(6, "Llama-3.3-70B-Instruct", "Llama-3.3-70B-Instruct", "GlobalStandard", 1, "Sandbox-NoFiltering"),
    _Dep(7, "gpt-4o-mini", "gpt-4o-mini", "Standard", 30, "RedTeam-Unfiltered"),
    _Dep(7, "o3-mini", "o3-mini", "Standard", 20, "RedTeam-Unfiltered"),
    _Dep(7, "gpt-4.1-mini", "gpt-4.1-mini", "Standard", 30, "RedTeam-Unfiltered"),
    _Dep(7, "gpt-5", "gpt-5", "GlobalStandard", 20, "RedTeam-Unfiltered"),
)
#: The deployment whose guardrail was tightened after Azure's last scan (index into _DEPS).
_STALE_DEP = 17
#: The deployment a *detected* jailbreak hit: its Jailbreak shield is off (index into _DEPS).
_JAILBREAK_DETECTED_DEP = 19


def _harm_minimum(threshold: Severity) -> list[ControlRequirement]:
    return [minimum((h, s), threshold) for h in _HARMS for s in (PROMPT, COMPLETION)]


@dataclass(frozen=True, slots=True)
class _Pol:
    name: str
    display_name: str
    description: str
    sub: int
    rg: int | None  #: None: subscription scope
    requirements: tuple[ControlRequirement, ...]
    assigned_by: str
    by_fcdesk: bool
    created_on: str
    scan_at: str | None  #: when Azure last evaluated it; None: no states yet (pending)
    not_scopes: tuple[tuple[str, int], ...] = ()  #: ("rg", rg index) | ("dep", dep index)


_POLS: tuple[_Pol, ...] = (
    _Pol("gr-foundry-prod", "Foundry production guardrail",
         "Harm filters must block at Medium or stricter on prompts and completions; jailbreak and "
         "indirect-attack shields must block.",
         0, 0, tuple(_harm_minimum(Severity.MEDIUM) + [minimum(("Jailbreak", PROMPT)),
                                                       minimum(("Indirect Attack", PROMPT))]),
         "Priya Raman", True, "2026-10-02T14:21:07.0000000Z", "2026-11-20T06:41:00Z"),
    _Pol("gr-dev-baseline", "Development baseline guardrail",
         "Development deployments keep Microsoft's harm thresholds and the jailbreak shield.",
         1, None, tuple(_harm_minimum(Severity.MEDIUM) + [minimum(("Jailbreak", PROMPT))]),
         "Marcus Lee", False, "2026-08-19T09:02:44.0000000Z", "2026-11-20T06:12:00Z"),
    _Pol("gr-sandbox-minimum",
         "Research sandbox & red team <minimum controls>",
         "Created from the Guardrails tab: <b>harm filters</b> must block on prompts & completions.",
         2, None, tuple(_harm_minimum(Severity.HIGH)),
         "Priya Raman", True, "2026-11-20T09:12:31.0000000Z", None),
    _Pol("gr-prod-prompt-shields", "Production prompt shields",
         "Jailbreak and indirect-attack shields and protected-material text detection must block. "
         "Exceptions: the Azure OpenAI resource group (own review) and the Llama pilot.",
         0, None, (minimum(("Jailbreak", PROMPT)), minimum(("Indirect Attack", PROMPT)),
                   minimum(("Protected Material Text", COMPLETION))),
         "Security Engineering", False, "2026-09-05T11:47:19.0000000Z", "2026-11-20T05:58:00Z",
         not_scopes=(("rg", 1), ("dep", 13))),
)

#: The policy whose state for _STALE_DEP is stale (index into _POLS).
_STALE_POLICY = 1

#: Non-guardrail assignments the guardrail views must ignore: (name, displayName, definition, sub, params)
_OTHER_ASSIGNMENTS: tuple[tuple[str, str, str, int, dict[str, Any]], ...] = (
    ("allowed-locations", "Allowed locations for AI resources",
     "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c", 0,
     {"listOfAllowedLocations": {"value": ["eastus2", "swedencentral", "eastus"]}}),
    ("defender-for-ai-enabled", "Microsoft Defender for AI Services should be enabled",
     "/providers/Microsoft.Authorization/policyDefinitions/c2c0c6d8-007b-4a48-8d9b-3539bddd8e87", 1, {}),
)

#: The initiative's references → their policy definitions (from the built-in initiative).
_REF_DEFINITIONS: dict[str, str] = {}
for _key, _names in CONTROL_PARAMS.items():
    if _key[0] in _HARMS:
        _def = "930f48f9-f07e-427c-9494-52603581c6a9"
    elif _key[1] == COMPLETION:
        _def = "af253d37-136a-42f8-a1fc-30010c083d41"
    else:
        _def = "f3a9c2e0-7b4d-4d8f-9c3a-2e1f6b9a8d4e"
    _REF_DEFINITIONS[_names.reference_id] = f"/providers/Microsoft.Authorization/policyDefinitions/{_def}"
_REF_DEFINITIONS[MODE_REFERENCE] = (
    "/providers/Microsoft.Authorization/policyDefinitions/c1ad46c6-37f8-4af0-9c71-c208375c87dd"
)


@dataclass(frozen=True, slots=True)
class _Rec:
    """A Defender for Cloud recommendation (assessment metadata)."""

    key: str  #: stable slot name; the metadata GUID comes from the rng
    display_name: str
    severity: str
    category: str
    description: str
    remediation: str
    user_impact: str
    effort: str
    threats: tuple[str, ...]


_RECS: tuple[_Rec, ...] = (
    _Rec("network", "Azure AI Services resources should restrict network access", "Medium", "Networking",
         "By restricting network access, you can ensure that only allowed networks can access the service. "
         "Configure network rules so that only applications from allowed networks can reach the resource.",
         "Set the resource's network access to selected networks or disable public network access.",
         "Moderate", "Low", ("dataExfiltration", "maliciousInsider")),
    _Rec("local_auth",
         "Azure AI Services resources should have key access disabled (disable local authentication)",
         "High", "IdentityAndAccess",
         "Key access (local authentication) is recommended to be disabled for security. Microsoft Entra ID "
         "becomes the only way to access the resource, which removes the risk of leaked keys.",
         "Set disableLocalAuth to true on the resource and move callers to Microsoft Entra ID.",
         "High", "Moderate", ("accountBreach", "dataExfiltration")),
    _Rec("diagnostics", "Diagnostic logs in Azure AI services resources should be enabled", "Low", "Data",
         "Enable logs for Azure AI services resources. This lets you recreate activity trails for "
         "investigation when a security incident occurs or your network is compromised.",
         "Add a diagnostic setting that sends the Audit and RequestResponse categories to a workspace.",
         "Low", "Low", ("threatResistance",)),
    _Rec("private_link", "Azure AI Services should use private link", "Medium", "Networking",
         "Azure Private Link lets you connect your virtual networks to Azure services without a public IP "
         "address at the source or destination.",
         "Create a private endpoint for the resource and disable public network access.",
         "Moderate", "Moderate", ("dataExfiltration",)),
    _Rec("cmk", "Azure AI services resources should encrypt data at rest with a customer-managed key (CMK)",
         "Low", "Data",
         "Customer-managed keys give you control over the key that encrypts your data at rest, including "
         "rotation and revocation.",
         "Configure encryption with a key from your Azure Key Vault on the resource.",
         "Low", "High", ("dataSpillage",)),
    _Rec("st_network", "Storage accounts should restrict network access", "Medium", "Networking",
         "Network access to storage accounts should be restricted to allowed networks.",
         "Set the storage account's default network action to Deny.", "Moderate", "Low",
         ("dataExfiltration",)),
    _Rec("st_https", "Secure transfer to storage accounts should be enabled", "High", "Data",
         "Secure transfer forces the storage account to accept requests only over HTTPS.",
         "Enable 'Secure transfer required' on the storage account.", "Low", "Low", ("dataExfiltration",)),
)


@dataclass(frozen=True, slots=True)
class _AlertT:
    dep: int  #: index into _DEPS
    alert_type: str
    display_name: str
    description: str
    severity: str
    status: str
    intent: str
    hours_ago: float
    techniques: tuple[str, ...]
    remediation: tuple[str, ...]


_JB_REMEDIATION = (
    "Review the prompts in the alert's evidence to understand the attempt.",
    "Identify the user or application that sent them; consider blocking its access.",
    "Make sure the deployment's guardrail blocks user prompt attacks (Prompt Shields: jailbreak).",
)
_JB_BLOCKED = (
    "A Jailbreak attempt on your Azure AI model deployment was blocked by Azure AI Content Safety "
    "Prompt Shields"
)
_JB_BLOCKED_TEXT = (
    "A jailbreak attempt on your Azure AI model deployment was detected and blocked by Azure AI Content "
    "Safety Prompt Shields. Jailbreak attacks try to make the model ignore its system prompt and safety "
    "rules."
)
_JB_DETECTED = (
    "A Jailbreak attempt on your Azure AI model deployment was detected by Azure AI Content Safety "
    "Prompt Shields"
)
_JB_DETECTED_TEXT = (
    "A jailbreak attempt on your Azure AI model deployment was detected by Azure AI Content Safety Prompt "
    "Shields but was not blocked, because the deployment's guardrail does not block jailbreak attempts."
)
_ALERTS: tuple[_AlertT, ...] = (
    _AlertT(0, "AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt", _JB_BLOCKED, _JB_BLOCKED_TEXT,
            "Medium", "Active", "PrivilegeEscalation", 3.5, ("T1548",), _JB_REMEDIATION),
    _AlertT(_JAILBREAK_DETECTED_DEP, "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt", _JB_DETECTED,
            _JB_DETECTED_TEXT, "High", "Active", "PrivilegeEscalation", 1.25, ("T1548",), _JB_REMEDIATION),
    _AlertT(8, "AI.Azure_CredentialTheftAttempt",
            "Detected credential theft attempts on an Azure AI model deployment",
            "Credential theft attempts were detected on an Azure AI model deployment: prompts tried to make "
            "the model reveal credentials from its context.", "Medium", "Resolved", "CredentialAccess", 52.0,
            ("T1552",), ("Review the prompts and rotate any credential the model may have had in context.",)),
    _AlertT(21, "AI.Azure_DataLeakage.ModelResponse.CreditCard",
            "Credit card number detected in an AI model response",
            "A response from an Azure AI model deployment contained what looks like a payment card number.",
            "Low", "Active", "Collection", 20.0, ("T1530",),
            ("Check the grounding data and tools of the application for payment data.",)),
    _AlertT(25, "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt", _JB_DETECTED, _JB_DETECTED_TEXT,
            "High", "Resolved", "PrivilegeEscalation", 30.0, ("T1548",), _JB_REMEDIATION),
    _AlertT(11, "AI.Azure_MaliciousUrl.ModelResponse",
            "Corrupted AI application\\model\\data directed a phishing attempt at a user",
            "A response from an Azure AI model deployment contained a URL known to be used for phishing.",
            "High", "Active", "Impact", 6.0, ("T1566",),
            ("Find the source of the URL in the application's grounding data and remove it.",)),
)

# --------------------------------------------------------------------------------------- helpers


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(moment: datetime) -> str:
    """ARM's timestamp style: 7 fractional digits and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")[:19]).replace(tzinfo=UTC)


def _names(copy: int) -> tuple[str, str]:
    """(ARM name suffix, display name suffix) for one copy of the template."""
    return ("", "") if copy == 0 else (f"-{copy + 1}", f" {copy + 1}")


def _rec(kind: Kind, body: dict[str, Any], scope: str) -> RawRecord:
    return RawRecord(kind, body["id"], body, scope)


def _asc_location(location: str) -> str:
    return "westeurope" if location in ("swedencentral", "westeurope", "northeurope") else "centralus"


# -------------------------------------------------------------------------------------- generate


def generate(scale: int = 1, seed: int = 0) -> tuple[SnapshotMeta, list[RawRecord]]:
    """The demo tenant, ``scale`` copies of it, from ``random.Random(seed)``. Deterministic."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    rng = random.Random(seed)
    records: list[RawRecord] = [_initiative()]
    meta_keys = {r.key: _guid(rng) for r in _RECS}
    records.extend(_assessment_metadata(meta_keys))
    sub_ids: list[str] = []
    pending: set[str] = set()  # assignment id keys with no states yet
    stale: dict[str, str] = {}  # deployment id key → the assignment id key whose state is stale
    scan_at: dict[str, datetime] = {}  # assignment id key → when Azure last evaluated it
    states: list[RawRecord] = []
    for copy in range(scale):
        start = len(records)
        _copy(rng, copy, meta_keys, records, sub_ids, pending, stale, scan_at)
        # Copies share nothing, so each is judged on its own: a small Inventory at a time keeps
        # the peak memory of scale 2500 (100,000 deployments) down to the records themselves.
        states.extend(_policy_states(rng, records[start:], pending, stale, scan_at))
    records.extend(states)
    meta = SnapshotMeta(
        captured_at=CAPTURED_AT,
        source=Source.DEMO,
        tenant_id=DEMO_TENANT_ID,
        tenant_name=DEMO_TENANT_NAME,
        cloud="public",
        scopes=sub_ids,
        partial=False,
    )
    return meta, records


def _copy(
    rng: random.Random,
    copy: int,
    meta_keys: dict[str, str],
    out: list[RawRecord],
    sub_ids: list[str],
    pending: set[str],
    stale: dict[str, str],
    scan_at: dict[str, datetime],
) -> None:
    sfx, dsfx = _names(copy)
    subs = [_guid(rng) for _ in _SUBS]
    sub_ids.extend(subs)
    for sub_id, tmpl in zip(subs, _SUBS, strict=True):
        out.append(_subscription(sub_id, tmpl, dsfx))
    rg_ids: list[str] = []
    for sub_i, name, location in _RGS:
        rg_id = f"/subscriptions/{subs[sub_i]}/resourceGroups/{name}{sfx}"
        rg_ids.append(rg_id)
        out.append(_rec(Kind.RESOURCE_GROUP, {
            "id": rg_id,
            "name": f"{name}{sfx}",
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "tags": dict(_SUBS[sub_i].tags),
            "properties": {"provisioningState": "Succeeded"},
        }, f"/subscriptions/{subs[sub_i]}"))
    storage_name = f"stcontosoraimon{copy + 1 if copy else ''}"  # storage names: lower-case, no hyphens
    storage_id = f"{rg_ids[2]}/providers/Microsoft.Storage/storageAccounts/{storage_name}"
    acct_ids: list[str] = []
    for i, acct in enumerate(_ACCTS):
        acct_id = f"{rg_ids[acct.rg]}{_CS}{acct.name}{sfx}"
        acct_ids.append(acct_id)
        sub_scope = f"/subscriptions/{subs[_RGS[acct.rg][0]]}"
        body = _account(rng, acct, acct_id, f"{acct.name}{sfx}", storage_id)
        out.append(_rec(Kind.ACCOUNT, body, sub_scope))
        for p_i, (p_name, p_display, p_desc) in enumerate(acct.projects):
            out.append(_rec(Kind.PROJECT, {
                "id": f"{acct_id}/projects/{p_name}",
                "name": p_name,
                "type": "Microsoft.CognitiveServices/accounts/projects",
                "location": acct.location,
                "identity": {"type": "SystemAssigned", "principalId": _guid(rng), "tenantId": DEMO_TENANT_ID},
                "properties": {
                    "provisioningState": "Succeeded",
                    "displayName": f"{p_display}{dsfx}",
                    "description": p_desc,
                    "endpoints": {
                        "AI Foundry API": f"https://{acct.name}{sfx}.services.ai.azure.com/api/projects/{p_name}",
                    },
                    "isDefault": p_i == 0,
                },
            }, acct_id))
        for rail_name in _ACCT_RAILS[i]:
            out.append(_rec(Kind.RAI_POLICY, _rai_policy(acct_id, _RAILS[rail_name]), acct_id))
        out.append(_rec(Kind.DEFENDER_AI_SETTING, {
            "name": "Default",
            "id": f"{acct_id}/defenderForAISettings/Default",
            "type": "Microsoft.CognitiveServices/accounts/defenderForAISettings",
            "properties": {"state": acct.defender},
        }, acct_id))
    dep_ids: list[str] = []
    for dep in _DEPS:
        acct_id = acct_ids[dep.acct]
        dep_id = f"{acct_id}/deployments/{dep.name}"
        dep_ids.append(dep_id)
        out.append(_rec(Kind.DEPLOYMENT, _deployment(dep, dep_id), acct_id))
    # guardrail policies
    for p_i, pol in enumerate(_POLS):
        sub_id = subs[pol.sub]
        scope = rg_ids[pol.rg] if pol.rg is not None else f"/subscriptions/{sub_id}"
        name = f"{pol.name}{sfx}"
        pa_id = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}"
        not_scopes = [rg_ids[i] if what == "rg" else dep_ids[i] for what, i in pol.not_scopes]
        metadata: dict[str, Any] = {"assignedBy": pol.assigned_by}
        if pol.by_fcdesk:
            metadata[FCDESK_METADATA_KEY] = FCDESK_METADATA_VALUE
        metadata["createdOn"] = pol.created_on
        params = parameters_for({r.key: r for r in pol.requirements}, None)
        params[EFFECT_PARAM] = {"value": "Audit"}
        out.append(_rec(Kind.POLICY_ASSIGNMENT, {
            "properties": {
                "displayName": f"{pol.display_name}{dsfx}",
                "description": pol.description,
                "metadata": metadata,
                "policyDefinitionId": INITIATIVE_ID,
                "notScopes": not_scopes,
                "parameters": params,
                "enforcementMode": "Default",
                "scope": scope,
                "nonComplianceMessages": [
                    {"message": "Model deployments must use a guardrail meeting Contoso's minimum controls."}
                ],
            },
            "id": pa_id,
            "type": "Microsoft.Authorization/policyAssignments",
            "name": name,
        }, f"/subscriptions/{sub_id}"))
        if pol.scan_at is None:
            pending.add(idkey(pa_id))
        else:
            scan_at[idkey(pa_id)] = _parse(pol.scan_at)
        if p_i == _STALE_POLICY:
            stale[idkey(dep_ids[_STALE_DEP])] = idkey(pa_id)
    for name, display, definition, sub_i, params in _OTHER_ASSIGNMENTS:
        scope = f"/subscriptions/{subs[sub_i]}"
        out.append(_rec(Kind.POLICY_ASSIGNMENT, {
            "properties": {
                "displayName": f"{display}{dsfx}",
                "description": "",
                "metadata": {"assignedBy": "Cloud Platform Team"},
                "policyDefinitionId": definition,
                "notScopes": [],
                "parameters": params,
                "enforcementMode": "Default",
                "scope": scope,
            },
            "id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}{sfx}",
            "type": "Microsoft.Authorization/policyAssignments",
            "name": f"{name}{sfx}",
        }, scope))
    # security posture
    for i, acct in enumerate(_ACCTS):
        statuses = {
            "network": "Unhealthy" if acct.public_network else "Healthy",
            "local_auth": "Healthy" if acct.local_auth_disabled else "Unhealthy",
            "diagnostics": "Healthy" if acct.diagnostics else "Unhealthy",
            "private_link": "Healthy" if acct.private_link else "Unhealthy",
            "cmk": acct.cmk,
        }
        for key, status in statuses.items():
            out.append(_assessment(acct_ids[i], meta_keys[key], _rec_by_key(key), status))
    for key, status in (("st_network", "Unhealthy"), ("st_https", "Healthy")):
        out.append(_assessment(storage_id, meta_keys[key], _rec_by_key(key), status))
    for tmpl in _ALERTS:
        dep = _DEPS[tmpl.dep]
        acct = _ACCTS[dep.acct]
        acct_id = acct_ids[dep.acct]
        out.append(_alert(rng, tmpl, acct_id, f"{acct.name}{sfx}", acct.location, dep, rg_ids[acct.rg]))
    for sub_id, tmpl in zip(subs, _SUBS, strict=True):
        out.append(_pricing(sub_id, tmpl))


def _rec_by_key(key: str) -> _Rec:
    for r in _RECS:
        if r.key == key:
            return r
    raise KeyError(key)


# ---------------------------------------------------------------------------------- record bodies


def _initiative() -> RawRecord:
    """The built-in guardrail initiative: its identity, references and parameter definitions.

    Only the fields fcdesk uses are embedded (not the references' parameter wiring), so the
    generator does not depend on ``shared/`` at run time.
    """
    params: dict[str, Any] = {EFFECT_PARAM: {
        "type": "string", "defaultValue": "Audit", "allowedValues": ["Audit", "Disabled"],
        "metadata": {"displayName": "Effect",
                     "description": "Enable or disable the execution of the policy."},
    }}
    for names in CONTROL_PARAMS.values():
        for pname in (names.enabled, names.blocking):
            params[pname] = {"type": "Array", "defaultValue": ["true"], "allowedValues": ["true", "false"]}
        if names.severities is not None:
            params[names.severities] = {
                "type": "Array",
                "defaultValue": ["Medium", "High"],
                "allowedValues": ["Low", "Medium", "High"],
            }
    params[MODE_PARAM] = {
        "type": "Array", "defaultValue": ["Default"], "allowedValues": ["Default", "Asynchronous_filter"],
        "metadata": {"displayName": "Streaming Mode",
                     "description": "The Streaming Model of the Filter, Default or Asynchronous_filter."},
    }
    body = {
        "properties": {
            "displayName": INITIATIVE_DISPLAY_NAME,
            "policyType": "BuiltIn",
            "description": "Mandate guardrail configuration for model deployments within your organization.",
            "metadata": {"version": "1.0.0-preview", "category": "Cognitive Services", "preview": True},
            "version": "1.0.0-preview",
            "parameters": params,
            "policyDefinitions": [
                {"policyDefinitionReferenceId": ref, "policyDefinitionId": definition}
                for ref, definition in _REF_DEFINITIONS.items()
            ],
            "versions": ["1.0.0-PREVIEW"],
        },
        "id": INITIATIVE_ID,
        "type": "Microsoft.Authorization/policySetDefinitions",
        "name": INITIATIVE_NAME,
    }
    return RawRecord(Kind.POLICY_SET_DEFINITION, INITIATIVE_ID, body, "")


def _assessment_metadata(keys: dict[str, str]) -> Iterable[RawRecord]:
    for r in _RECS:
        key = keys[r.key]
        body = {
            "id": f"/providers/Microsoft.Security/assessmentMetadata/{key}",
            "name": key,
            "type": "Microsoft.Security/assessmentMetadata",
            "properties": {
                "displayName": r.display_name,
                "description": r.description,
                "remediationDescription": r.remediation,
                "categories": [r.category],
                "severity": r.severity,
                "userImpact": r.user_impact,
                "implementationEffort": r.effort,
                "threats": list(r.threats),
                "assessmentType": "BuiltIn",
            },
        }
        yield _rec(Kind.ASSESSMENT_METADATA, body, "")


def _subscription(sub_id: str, tmpl: _Sub, dsfx: str) -> RawRecord:
    body = {
        "id": f"/subscriptions/{sub_id}",
        "subscriptionId": sub_id,
        "tenantId": DEMO_TENANT_ID,
        "displayName": f"{tmpl.display_name}{dsfx}",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": tmpl.quota,
            "spendingLimit": "Off",
        },
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": dict(tmpl.tags),
    }
    return _rec(Kind.SUBSCRIPTION, body, "")


def _account(rng: random.Random, acct: _Acct, acct_id: str, name: str, storage_id: str) -> dict[str, Any]:
    foundry = acct.kind == "AIServices"
    props: dict[str, Any] = {
        "endpoint": f"https://{name}.cognitiveservices.azure.com/" if foundry else f"https://{name}.openai.azure.com/",
        "endpoints": (
            {"OpenAI Language Model Instance API": f"https://{name}.openai.azure.com/",
             "AI Foundry API": f"https://{name}.services.ai.azure.com/",
             "Content Safety": f"https://{name}.cognitiveservices.azure.com/"}
            if foundry else
            {"OpenAI Language Model Instance API": f"https://{name}.openai.azure.com/"}
        ),
        "provisioningState": "Succeeded",
        "customSubDomainName": name,
        "publicNetworkAccess": "Enabled" if acct.public_network else "Disabled",
        "networkAcls": {"defaultAction": "Allow" if acct.public_network else "Deny",
                        "virtualNetworkRules": [], "ipRules": []},
        "disableLocalAuth": acct.local_auth_disabled,
        "dateCreated": "2025-03-11T16:04:52.1234567Z",
    }
    if foundry:
        props["allowProjectManagement"] = True
        if acct.projects:
            props["defaultProject"] = acct.projects[0][0]
            props["associatedProjects"] = [p[0] for p in acct.projects]
    if acct.rai_monitor:
        props["raiMonitorConfig"] = {"adxStorageResourceId": storage_id, "identityClientId": _guid(rng)}
    if acct.abuse_penalty:
        props["abusePenalty"] = {"action": "Throttle", "rateLimitPercentage": 25,
                                 "expiration": "2026-11-24T00:00:00Z"}
    return {
        "id": acct_id,
        "name": name,
        "type": _ACCOUNT_TYPE,
        "location": acct.location,
        "sku": {"name": "S0"},
        "kind": acct.kind,
        "identity": {"type": "SystemAssigned", "principalId": _guid(rng), "tenantId": DEMO_TENANT_ID},
        "tags": {"workload": "genai"},
        "properties": props,
    }


def _rai_policy(acct_id: str, rail: _Rail) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if rail.modern:
        props["type"] = "UserManaged"
    props["basePolicyName"] = rail.base
    props["mode"] = rail.mode
    props["contentFilters"] = [dict(f) for f in rail.filters]
    if rail.modern:
        props["customBlocklists"] = [dict(b) for b in rail.blocklists]
    body: dict[str, Any] = {
        "name": rail.name,
        "id": f"{acct_id}/raiPolicies/{rail.name}",
        "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
        "properties": props,
    }
    if rail.modified_at:
        body["systemData"] = {
            "lastModifiedBy": "dana.whitfield@contoso.com",
            "lastModifiedByType": "User",
            "lastModifiedAt": rail.modified_at,
        }
    return body


def _deployment(dep: _Dep, dep_id: str) -> dict[str, Any]:
    version, fmt = _MODELS[dep.model]
    props: dict[str, Any] = {
        "model": {"format": fmt, "name": dep.model, "version": dep.version or version},
        "versionUpgradeOption": "OnceNewDefaultVersionAvailable" if fmt == "OpenAI" else "NoAutoUpgrade",
        "provisioningState": "Succeeded",
    }
    if dep.rai is not None:
        props["raiPolicyName"] = dep.rai
    props["currentCapacity"] = dep.capacity
    return {
        "id": dep_id,
        "name": dep.name,
        "type": _DEPLOYMENT_TYPE,
        "sku": {"name": dep.sku, "capacity": dep.capacity},
        "properties": props,
    }


def _assessment(resource_id: str, key: str, rec: _Rec, status: str) -> RawRecord:
    status_body: dict[str, Any] = {"code": status}
    if status == "NotApplicable":
        status_body["cause"] = "OffByPolicy"
        status_body["description"] = (
            "The effective policy for the assessment was evaluated to off - use "
            "Microsoft.Authorization/policyAssignments to turn this assessment on"
        )
    props: dict[str, Any] = {
        "resourceDetails": {"source": "Azure", "id": resource_id},
        "displayName": rec.display_name,
        "status": status_body,
    }
    if status == "Unhealthy":
        props["links"] = {"azurePortalUri": f"{_PORTAL}/RecommendationsBlade/assessmentKey/{key}"}
    body = {
        "id": f"{resource_id}/providers/Microsoft.Security/assessments/{key}",
        "name": key,
        "type": "Microsoft.Security/assessments",
        "properties": props,
    }
    sub_id = resource_id.split("/")[2]
    return _rec(Kind.ASSESSMENT, body, f"/subscriptions/{sub_id}")


def _alert(rng: random.Random, tmpl: _AlertT, acct_id: str, acct_name: str, location: str, dep: _Dep,
           rg_id: str) -> RawRecord:
    sub_id = acct_id.split("/")[2]
    rg_name = rg_id.rsplit("/", 1)[-1]
    asc = _asc_location(location)
    name = f"2516{rng.randrange(10**15):015d}_{_guid(rng).upper()}"
    start = CAPTURED_AT - timedelta(hours=tmpl.hours_ago, seconds=rng.randrange(900))
    generated = start + timedelta(seconds=40 + rng.randrange(200))
    version, fmt = _MODELS[dep.model]
    extended = {
        ALERT_DEPLOYMENT_KEY: dep.name,
        "Model name": dep.model,
        "Model version": dep.version or version,
        "resourceType": "Azure AI Services",
    }
    body = {
        "id": f"{rg_id}/providers/Microsoft.Security/locations/{asc}/alerts/{name}",
        "name": name,
        "type": "Microsoft.Security/Locations/alerts",
        "properties": {
            "version": "2022-01-01",
            "alertType": tmpl.alert_type,
            "systemAlertId": name,
            "productComponentName": "AI",
            "alertDisplayName": tmpl.display_name,
            "description": tmpl.description,
            "severity": tmpl.severity,
            "intent": tmpl.intent,
            "startTimeUtc": _ts(start),
            "endTimeUtc": _ts(start + timedelta(minutes=4)),
            "resourceIdentifiers": [{"azureResourceId": acct_id, "type": "AzureResource"}],
            "remediationSteps": list(tmpl.remediation),
            "vendorName": "Microsoft",
            "status": tmpl.status,
            "alertUri": (f"{_PORTAL}/AlertBlade/alertId/{name}/subscriptionId/{sub_id}"
                         f"/resourceGroup/{rg_name}/referencedFrom/alertDeepLink/location/{asc}"),
            "timeGeneratedUtc": _ts(generated),
            "productName": "Microsoft Defender for Cloud",
            "processingEndTimeUtc": _ts(generated + timedelta(seconds=1)),
            "entities": [{"resourceId": acct_id, "type": "azure-resource"}],
            "isIncident": False,
            "compromisedEntity": acct_name,
            "extendedProperties": extended,
            "techniques": list(tmpl.techniques),
        },
    }
    return _rec(Kind.ALERT, body, f"/subscriptions/{sub_id}")


def _pricing(sub_id: str, tmpl: _Sub) -> RawRecord:
    props: dict[str, Any] = {"pricingTier": tmpl.tier, "freeTrialRemainingTime": "PT0S"}
    if tmpl.tier == "Standard":
        props["enablementTime"] = "2026-06-03T10:15:27.5523316Z"
        props["extensions"] = [
            {"name": "AIPromptEvidence", "isEnabled": "True" if tmpl.evidence else "False"},
            {"name": "AIPromptSharingWithPurview", "isEnabled": "True" if tmpl.purview else "False"},
        ]
    body = {
        "id": f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings/AI",
        "name": "AI",
        "type": "Microsoft.Security/pricings",
        "properties": props,
    }
    return _rec(Kind.PRICING, body, f"/subscriptions/{sub_id}")


# ---------------------------------------------------------------------------------- policy states

_STATE_KINDS = frozenset({Kind.ACCOUNT, Kind.DEPLOYMENT, Kind.RAI_POLICY, Kind.POLICY_ASSIGNMENT})


def _policy_states(
    rng: random.Random,
    records: list[RawRecord],
    pending: set[str],
    stale: dict[str, str],
    scan_at: dict[str, datetime],
) -> list[RawRecord]:
    """Azure's verdicts, computed from the other records the way the initiative judges them."""
    inv = Inventory.build(
        SnapshotMeta(captured_at=CAPTURED_AT), (r for r in records if r.kind in _STATE_KINDS)
    )
    if inv.errors:  # the template is ours: a malformed body is a bug in this module
        raise AssertionError(f"demo records do not normalise: {inv.errors[:3]}")
    jailbreak_ref = CONTROL_PARAMS[("Jailbreak", PROMPT)].reference_id
    out: list[RawRecord] = []
    for dep in inv.deployments:
        dkey = idkey(dep.id)
        for pol in inv.governing(dep):
            pkey = idkey(pol.id)
            if pkey in pending:
                continue
            ev = inv.local(dep, pol)
            jitter = timedelta(seconds=rng.randrange(600), microseconds=rng.randrange(1_000_000))
            when = scan_at[pkey] + jitter
            if stale.get(dkey) == pkey:
                # Scanned the day before, when the guardrail's jailbreak shield only annotated.
                when -= timedelta(hours=20)
                failed = [jailbreak_ref]
            else:
                # A harm reference judges prompt and completion together: one record per reference.
                failed = list(dict.fromkeys(r.reference_id for r in ev.failures))
            common = {
                "resourceId": dep.id,
                "policyAssignmentId": pol.id,
                "policySetDefinitionId": INITIATIVE_ID,
            }
            # Only the fields of the `$select` fcdesk's capture asks for (POLICY_STATE_FIELDS).
            tail = {"timestamp": _ts(when)}
            scope = f"/subscriptions/{dep.subscription_id}"
            summary = {
                **common,
                "policyDefinitionReferenceId": "",
                "policyDefinitionId": "",
                "complianceState": "NonCompliant" if failed else "Compliant",
                **tail,
            }
            out.append(RawRecord(Kind.POLICY_STATE, policy_state_key(summary), summary, scope))
            for ref in failed:
                body = {
                    **common,
                    "policyDefinitionReferenceId": ref,
                    "policyDefinitionId": _REF_DEFINITIONS[ref],
                    "complianceState": "NonCompliant",
                    **tail,
                }
                out.append(RawRecord(Kind.POLICY_STATE, policy_state_key(body), body, scope))
    return out

