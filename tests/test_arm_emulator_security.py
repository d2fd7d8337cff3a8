"""The ARM emulator's Defender for Cloud writes (tests/arm_emulator/writes.py): the ``AI`` plan and other
pricings (Pricings_Update) and the per-account Defender for AI settings (PUT and PATCH), with their
validation, their answers, their RBAC actions and injected faults.

Requests go through plain aiohttp for the published examples and the error cases, and through the
real SDK clients (``SecurityCenter``, ``CognitiveServicesManagementClient``) to show that the answers
are what those clients expect.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import DefenderForAISetting
from azure.mgmt.security.aio import SecurityCenter
from azure.mgmt.security.v2024_01_01.models import Extension, Pricing

from fcdesk.core.records import Kind
from tests.arm_emulator import ArmEmulator, EmulatorCredential, Faults, Rule, Scenario, run_async, sdk_kwargs
from tests.test_arm_emulator_writes import EXAMPLES, example, request

API_PRICINGS, API_CS = "2024-01-01", "2025-09-01"
PURVIEW = "AIPromptSharingWithPurview"


def pricing_path(sub: str, name: str = "AI") -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/{name}?api-version={API_PRICINGS}"


def subs_by_tier(scenario: Scenario) -> dict[str, str]:
    """Subscription id by the tier of its AI plan in the demo (one Standard with Purview off, one Free)."""
    out: dict[str, str] = {}
    for rec in scenario.of_kind(Kind.PRICING):
        props = rec.body["properties"]
        purview = any(e["name"] == PURVIEW and e["isEnabled"] == "True" for e in props.get("extensions", []))
        key = "Free" if props["pricingTier"] == "Free" else "Purview" if purview else "Standard"
        out.setdefault(key, rec.id.split("/")[2])
    return out


def first_setting(scenario: Scenario, state: str) -> dict[str, Any]:
    return next(
        r.body for r in scenario.of_kind(Kind.DEFENDER_AI_SETTING) if r.body["properties"]["state"] == state
    )


def account_parts(setting_id: str) -> tuple[str, str, str, str]:
    """(subscription, resource group, account, account id) of a Defender for AI setting id."""
    acct = setting_id.rsplit("/defenderForAISettings/", 1)[0]
    parts = acct.split("/")
    return parts[2], parts[4], parts[-1], acct


# ------------------------------------------------------------------------------------ published examples


def test_the_published_pricing_and_defender_setting_requests_are_accepted_unchanged() -> None:
    with ArmEmulator(Scenario.from_examples(EXAMPLES)) as emu:
        ex = example("security/PutPricingByName_example.json")
        p = ex["parameters"]
        path = f"/{p['scopeId']}/providers/Microsoft.Security/pricings/{p['pricingName']}"
        status, _, got = request(emu, "PUT", f"{path}?api-version={p['api-version']}", p["pricing"])
        # GetPricingByNameCloudPosture serves that pricing already: an update (200), and the answer is
        # the published one (the stored extension settings it does not show are kept).
        assert status == 200
        for ext in got["properties"]["extensions"]:
            ext.pop("additionalExtensionProperties", None)
        assert got == ex["responses"]["200"]["body"]
        assert request(emu, "GET", f"{path}?api-version={p['api-version']}")[2]["properties"]["extensions"][
            0
        ]["operationStatus"] == {"code": "Succeeded", "message": "Successfully enabled extension"}

        ex = example("cognitiveservices/UpdateDefenderForAISetting.json")
        p = ex["parameters"]
        acct = (
            f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.CognitiveServices/accounts/{p['accountName']}"
        )
        path = f"{acct}/defenderForAISettings/{p['defenderForAISettingName']}?api-version={p['api-version']}"
        before = request(emu, "GET", path)[2]
        status, _, got = request(emu, "PATCH", path, p["defenderForAISettings"])
        want = ex["responses"]["200"]["body"]
        assert status == 200
        assert {k: got[k] for k in ("id", "name", "type", "properties")} == {
            k: want[k] for k in ("id", "name", "type", "properties")
        }
        assert got["etag"] != before["etag"] and got["etag"].startswith('"')
        assert got["systemData"]["createdBy"] == want["systemData"]["createdBy"]  # kept
        assert got["systemData"]["lastModifiedBy"] == "tester"
        assert request(emu, "GET", path)[2] == got


# ------------------------------------------------------------------------------------ pricings


def test_the_sdk_turns_the_ai_plan_on_and_reads_back_what_it_wrote(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    sub = subs_by_tier(scenario)["Free"]

    async def go() -> tuple[Pricing, Pricing, list[str]]:
        async with EmulatorCredential(emu) as cred, SecurityCenter(cred, sub, **sdk_kwargs(emu)) as client:
            written = await client.pricings.update(
                f"subscriptions/{sub}",
                "AI",
                Pricing(
                    pricing_tier="Standard",
                    extensions=[
                        Extension(name="AIPromptEvidence", is_enabled="True"),
                        Extension(name=PURVIEW, is_enabled="False"),
                    ],
                ),
            )
            read = await client.pricings.get(f"subscriptions/{sub}", "AI")
            listed = await client.pricings.list(f"subscriptions/{sub}")
            return written, read, [p.pricing_tier for p in listed.value if p.name == "AI"]

    written, read, listed = run_async(go())
    assert written.pricing_tier == "Standard" and written.enablement_time is not None
    assert [(e.name, e.is_enabled, e.operation_status.code) for e in written.extensions] == [
        ("AIPromptEvidence", "True", "Succeeded"),
        (PURVIEW, "False", "Succeeded"),
    ]
    assert read.as_dict() == written.as_dict() and listed == ["Standard"]
    [put] = [e for e in emu.requests if e.method == "PUT"]
    assert put.query["api-version"] == API_PRICINGS and put.status == 200  # the Free plan existed
    assert emu.resource(pricing_path(sub).split("?")[0])["properties"]["pricingTier"] == "Standard"


def test_a_pricing_that_did_not_exist_is_created_and_extensions_not_named_are_kept(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    subs = subs_by_tier(scenario)
    status, _, created = request(
        emu, "PUT", pricing_path(subs["Free"], "CloudPosture"), {"properties": {"pricingTier": "standard"}}
    )
    assert status == 201 and created["properties"]["pricingTier"] == "Standard"
    assert (
        created["properties"]["freeTrialRemainingTime"] == "PT0S"
        and "extensions" not in created["properties"]
    )
    # The Standard plan's AIPromptEvidence is not named: it keeps its state; Purview is switched on.
    before = emu.resource(pricing_path(subs["Standard"]).split("?")[0])
    status, _, got = request(
        emu,
        "PUT",
        pricing_path(subs["Standard"]),
        {"properties": {"pricingTier": "Standard", "extensions": [{"name": PURVIEW, "isEnabled": "true"}]}},
    )
    assert status == 200
    assert {e["name"]: e["isEnabled"] for e in got["properties"]["extensions"]} == {
        "AIPromptEvidence": "True",
        PURVIEW: "True",
    }
    assert got["properties"]["enablementTime"] == before["properties"]["enablementTime"]  # already on


@pytest.mark.parametrize(
    ("props", "code", "words"),
    [
        ({"pricingTier": "Premium"}, "InvalidRequestContent", "'pricingTier' must be 'Free' or 'Standard'"),
        ({}, "InvalidRequestContent", "'pricingTier' must be"),
        (
            {"pricingTier": "Standard", "extensions": [{"name": PURVIEW, "isEnabled": True}]},
            "InvalidRequestContent",
            "must be the string True or False",
        ),
        ({"pricingTier": "Standard", "extensions": {"name": PURVIEW}}, "InvalidRequestContent", "array"),
        (
            {"pricingTier": "Free", "extensions": [{"name": PURVIEW, "isEnabled": "True"}]},
            "InvalidPricingConfiguration",
            "only be enabled on the Standard tier",
        ),
    ],
)
def test_invalid_pricings_are_refused_and_nothing_changes(
    emu: ArmEmulator, scenario: Scenario, props: dict[str, Any], code: str, words: str
) -> None:
    sub = subs_by_tier(scenario)["Free"]
    before = list(scenario.records)
    status, _, err = request(emu, "PUT", pricing_path(sub), {"properties": props})
    assert status == 400 and err["error"]["code"] == code and words in err["error"]["message"]
    assert scenario.records == before


# ------------------------------------------------------------------------- Defender for AI settings


def test_the_sdk_writes_a_defender_for_ai_setting_with_a_new_etag(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    setting = first_setting(scenario, "Enabled")
    sub, rg, account, acct = account_parts(setting["id"])

    async def go() -> tuple[Any, Any, list[Any]]:
        async with (
            EmulatorCredential(emu) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emu)) as client,
        ):
            put = await client.defender_for_ai_settings.create_or_update(
                rg, account, "Default", DefenderForAISetting(state="Disabled")
            )
            patched = await client.defender_for_ai_settings.update(
                rg, account, "Default", DefenderForAISetting(state="Enabled")
            )
            listed = [s async for s in client.defender_for_ai_settings.list(rg, account)]
            return put, patched, listed

    put, patched, listed = run_async(go())
    assert put.state == "Disabled" and patched.state == "Enabled"
    assert len({setting["etag"], put.etag, patched.etag}) == 3
    assert [(s.name, s.state, s.etag) for s in listed] == [("Default", "Enabled", patched.etag)]
    assert [e.method for e in emu.requests if e.method != "GET"] == ["PUT", "PATCH"]
    assert emu.resource(f"{acct}/defenderForAISettings/Default")["properties"]["state"] == "Enabled"


def test_defender_setting_errors(emu: ArmEmulator, scenario: Scenario) -> None:
    setting = first_setting(scenario, "Enabled")
    acct = account_parts(setting["id"])[3]
    path = f"{acct}/defenderForAISettings/Default?api-version={API_CS}"
    assert request(emu, "PUT", path, {"properties": {"state": "On"}})[0] == 400
    assert (
        request(emu, "PUT", path.replace("/Default", "/Other"), {"properties": {"state": "Enabled"}})[0]
        == 400
    )
    missing = acct.rsplit("/", 1)[0] + "/no-such-account"
    assert request(emu, "PUT", path.replace(acct, missing), {"properties": {"state": "Enabled"}})[0] == 404
    emu.remove_resource(setting["id"])
    assert request(emu, "PATCH", path, {"properties": {"state": "Enabled"}})[0] == 404
    status, _, created = request(emu, "PUT", path, {"properties": {"state": "disabled"}})
    assert status == 201 and created["properties"]["state"] == "Disabled"


# ------------------------------------------------------------------------------------ RBAC and faults


@pytest.mark.parametrize(
    ("role", "pricing", "setting"),
    [
        ("Owner", True, True),
        ("Contributor", True, True),
        ("Security Admin", True, False),
        ("Cognitive Services Contributor", False, True),
        ("Azure AI Account Owner", False, True),
        ("Reader", False, False),
    ],
)
def test_each_role_may_write_exactly_its_defender_resources(
    base: Scenario, role: str, pricing: bool, setting: bool
) -> None:
    scenario = Scenario(base.meta, base.records).only(role, principal="user@contoso.com")
    sub = subs_by_tier(scenario)["Free"]
    body = first_setting(scenario, "Enabled")
    with ArmEmulator(scenario) as emu:
        got = {
            "pricing": request(
                emu,
                "PUT",
                pricing_path(sub),
                {"properties": {"pricingTier": "Standard"}},
                principal="user@contoso.com",
            ),
            "setting": request(
                emu,
                "PUT",
                f"{body['id']}?api-version={API_CS}",
                {"properties": {"state": "Disabled"}},
                principal="user@contoso.com",
            ),
        }
    actions = {
        "pricing": "Microsoft.Security/pricings/write",
        "setting": "Microsoft.CognitiveServices/accounts/defenderForAISettings/write",
    }
    for name, allowed in (("pricing", pricing), ("setting", setting)):
        status, _, answer = got[name]
        if allowed:
            assert status in (200, 201), (name, answer)
        else:
            assert status == 403 and f"action '{actions[name]}'" in answer["error"]["message"], (name, answer)


def test_faults_apply_to_the_writes(scenario: Scenario) -> None:
    sub = subs_by_tier(scenario)["Free"]
    faults = Faults(server_errors=Rule(path="/pricings/AI", method="PUT", times=1))
    with ArmEmulator(scenario, faults=faults) as emu:
        first = request(emu, "PUT", pricing_path(sub), {"properties": {"pricingTier": "Standard"}})
        assert first[0] == 500
        assert emu.resource(pricing_path(sub).split("?")[0])["properties"]["pricingTier"] == "Free"
        assert request(emu, "PUT", pricing_path(sub), {"properties": {"pricingTier": "Standard"}})[0] == 200
        status, _, read = request(emu, "GET", pricing_path(sub))
    assert status == 200 and read["properties"]["pricingTier"] == "Standard"
    assert [(e.method, e.status, e.fault) for e in emu.requests] == [
        ("PUT", 500, "server_errors"),
        ("PUT", 200, ""),
        ("GET", 200, ""),
    ]
