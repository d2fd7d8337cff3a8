"""Azure Policy as the emulator judges it: a small rule interpreter over the built-in definitions.

This is deliberately **independent** of fcdesk's own evaluator (``fcdesk.core.policy``): it reads the
published built-in JSON (``tests/fixtures/azure-examples/policy-builtins``: the guardrail initiative
and its member definitions) and interprets each member's ``policyRule.if`` against the resource Azure
evaluates for a ``Microsoft.CognitiveServices.Data`` mode policy, so that the emulator's verdicts can
be used to check fcdesk's.

The resource (type ``Microsoft.CognitiveServices.Data/accounts/deployments``) holds the deployment's
*effective* RAI policy as ``raiPolicy``: the account's RAI policy named by ``properties.raiPolicyName``
(absent: ``Microsoft.DefaultV2``); for a custom policy its ``contentFilters`` plus every filter of its
``basePolicyName`` system policy whose ``(name, source)`` it does not list itself; system policies come
from :data:`SYSTEM_RAI_POLICIES` (``Microsoft.Nil`` and unknown names: no filters). ``mode`` is the
policy's (``Default`` when absent).

Rule language supported (what the definitions use): ``allOf``, ``anyOf``, ``not``; conditions on a
``field`` (``type``, ``name`` or an alias of the data type) or a ``count`` of an alias array
(``field`` ending ``[*]``, optional ``where``, fields inside ``where`` relative to the current
element), with ``equals``, ``notEquals``, ``in``, ``notIn`` (operator names case-insensitive); values may
be ``[parameters('name')]``. Comparisons are case-insensitive and booleans compare as the strings
``"true"``/``"false"`` (the allowed lists are arrays of strings). Anything else raises
:class:`PolicyRuleError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

BUILTINS = Path(__file__).resolve().parents[1] / "fixtures" / "azure-examples" / "policy-builtins"
INITIATIVE_FILE = "policySet_AllowDeploymentControl_Audit.json"
INITIATIVE_ID = "/providers/Microsoft.Authorization/policySetDefinitions/5207647b-3e83-4e28-b836-c382cb5e2a2e"
DATA_TYPE = "Microsoft.CognitiveServices.Data/accounts/deployments"
DEFAULT_RAI_POLICY = "Microsoft.DefaultV2"

_HARMS = ("Hate", "Sexual", "Violence", "Selfharm")


def _harm_filters() -> list[dict[str, Any]]:
    return [
        {"name": harm, "blocking": True, "enabled": True, "severityThreshold": "Medium", "source": source}
        for harm in _HARMS
        for source in ("Prompt", "Completion")
    ]


def _switch(name: str, source: str) -> dict[str, Any]:
    return {"name": name, "blocking": True, "enabled": True, "source": source}


#: The system RAI policies, by lower-case name: ``mode`` and ``contentFilters`` as a custom one has.
SYSTEM_RAI_POLICIES: dict[str, dict[str, Any]] = {
    "microsoft.defaultv2": {
        "mode": "Default",
        "contentFilters": [
            *_harm_filters(),
            _switch("Jailbreak", "Prompt"),
            _switch("Protected Material Text", "Completion"),
            _switch("Protected Material Code", "Completion"),
        ],
    },
    "microsoft.default": {"mode": "Default", "contentFilters": _harm_filters()},
    "microsoft.nil": {"mode": "Default", "contentFilters": []},
}


class PolicyRuleError(ValueError):
    """A rule uses something this interpreter does not support."""


class ParameterError(ValueError):
    """An assignment's parameters do not fit the initiative (an ARM error code and message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# ----------------------------------------------------------------------------------- definitions


@cache
def initiative() -> dict[str, Any]:
    """The guardrail initiative (policy set definition), as published."""
    return json.loads((BUILTINS / INITIATIVE_FILE).read_text(encoding="utf-8"))


@cache
def definitions() -> dict[str, dict[str, Any]]:
    """Every built-in policy definition in :data:`BUILTINS`, by lower-case id."""
    out = {}
    for path in sorted(BUILTINS.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if "policyRule" in body.get("properties", {}):
            out[str(body["id"]).lower()] = body
    return out


def is_initiative(policy_definition_id: object) -> bool:
    """Whether an assignment's ``policyDefinitionId`` names the guardrail initiative."""
    return isinstance(policy_definition_id, str) and (
        policy_definition_id.strip().strip("/").lower() == INITIATIVE_ID.strip("/").lower()
    )


def check_parameters(assignment_name: str, parameters: object) -> None:
    """Raise :class:`ParameterError` unless ``parameters`` (an assignment's ``properties.parameters``)
    fit the initiative: every name defined, every value ``{"value": ...}`` of the declared type and
    within ``allowedValues`` (arrays: every item)."""
    if parameters is None:
        return
    if not isinstance(parameters, Mapping):
        raise ParameterError("InvalidRequestContent", "The policy assignment parameters must be an object.")
    declared = initiative()["properties"]["parameters"]
    name = initiative()["name"]
    for key, wrapped in parameters.items():
        spec = declared.get(key)
        if spec is None:
            raise ParameterError(
                "UndefinedPolicyParameter",
                f"The policy assignment '{assignment_name}' has the parameter '{key}' which is not defined "
                f"in the policy set definition '{name}'.",
            )
        if not isinstance(wrapped, Mapping) or "value" not in wrapped:
            raise ParameterError(
                "InvalidRequestContent",
                f"The value of the policy parameter '{key}' must be an object with a 'value' property.",
            )
        value = wrapped["value"]
        allowed = spec.get("allowedValues")
        if str(spec.get("type", "")).lower() == "array":
            if not isinstance(value, list):
                raise ParameterError(
                    "InvalidPolicyParameters",
                    f"The policy parameter '{key}' expects a value of type 'Array', "
                    f"got '{_json_type(value)}'.",
                )
            items = value
        else:
            items = [value]
        for item in items:
            if allowed is not None and item not in allowed:
                raise ParameterError(
                    "InvalidPolicyParameters",
                    f"The policy parameter '{key}' has the value '{json.dumps(item)}', which is not one of "
                    f"the allowed values '{', '.join(map(str, allowed))}' of the policy set definition "
                    f"'{name}'.",
                )


def _json_type(value: object) -> str:
    return {dict: "Object", list: "Array", str: "String", bool: "Boolean", type(None): "Null"}.get(
        type(value), "Number"
    )


# ----------------------------------------------------------------------------------- the resource


def effective_rai_policy(
    deployment: Mapping[str, Any], rai_policies: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The RAI policy a deployment runs under: ``{"name", "mode", "contentFilters"}``.

    ``rai_policies``: the account's RAI policy bodies by name (any case).
    """
    props = deployment.get("properties") if isinstance(deployment.get("properties"), Mapping) else {}
    name = str(props.get("raiPolicyName") or DEFAULT_RAI_POLICY)
    system = SYSTEM_RAI_POLICIES.get(name.lower())
    custom = {str(k).lower(): v for k, v in rai_policies.items()}.get(name.lower())
    if system is not None or custom is None:
        base = system or {"mode": "Default", "contentFilters": []}
        return {
            "name": name,
            "mode": base["mode"],
            "contentFilters": [dict(f) for f in base["contentFilters"]],
        }
    cprops = custom.get("properties") if isinstance(custom.get("properties"), Mapping) else {}
    filters = [_filter(f) for f in cprops.get("contentFilters") or [] if isinstance(f, Mapping)]
    listed = {(str(f.get("name", "")).lower(), str(f.get("source", "")).lower()) for f in filters}
    base = SYSTEM_RAI_POLICIES.get(str(cprops.get("basePolicyName") or "").lower())
    if base is not None:
        filters += [
            dict(f) for f in base["contentFilters"] if (f["name"].lower(), f["source"].lower()) not in listed
        ]
    return {"name": name, "mode": str(cprops.get("mode") or "Default"), "contentFilters": filters}


def _filter(f: Mapping[str, Any]) -> dict[str, Any]:
    # Older api-versions call the threshold ``allowedContentLevel``: the same property.
    out = dict(f)
    if "severityThreshold" not in out and "allowedContentLevel" in out:
        out["severityThreshold"] = out["allowedContentLevel"]
    return out


def data_resource(
    deployment: Mapping[str, Any], rai_policies: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``Microsoft.CognitiveServices.Data/accounts/deployments`` resource policies see."""
    props = deployment.get("properties") if isinstance(deployment.get("properties"), Mapping) else {}
    policy = effective_rai_policy(deployment, rai_policies)
    return {
        "id": deployment.get("id"),
        "name": deployment.get("name"),
        "type": DATA_TYPE,
        "model": props.get("model") or {},
        "raiPolicy": {"mode": policy["mode"], "contentFilters": policy["contentFilters"]},
    }


# ----------------------------------------------------------------------------------- evaluation

_PARAM = re.compile(r"\[\s*parameters\(\s*'([^']*)'\s*\)\s*\]", re.IGNORECASE)
_OPERATORS = ("equals", "notequals", "in", "notin")


def _expr(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("[") and not value.startswith("[["):
        m = _PARAM.fullmatch(value)
        if m is None:
            raise PolicyRuleError(f"unsupported expression {value!r}")
        if m.group(1) not in params:
            raise PolicyRuleError(f"undefined parameter {m.group(1)!r}")
        return params[m.group(1)]
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.lower()
    return value


def _get(obj: Any, key: str) -> Any:
    if not isinstance(obj, Mapping):
        return None
    if key in obj:
        return obj[key]
    lowered = key.lower()
    return next((v for k, v in obj.items() if str(k).lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a condition is evaluated against: the resource, the definition's parameter values, and
    the elements a ``count`` is iterating over."""

    resource: Mapping[str, Any]
    params: Mapping[str, Any]
    bound: tuple[tuple[str, Any], ...] = ()  #: (lower alias path of a counted array, current element)

    def path_of(self, field: str) -> str:
        if "/" not in field:
            return field
        prefix = DATA_TYPE.lower() + "/"
        if not field.lower().startswith(prefix):
            raise PolicyRuleError(f"unsupported field {field!r}")
        return field[len(prefix) :]

    def field(self, field: str) -> Any:
        path = self.path_of(field)
        lowered = path.lower()
        for array, element in reversed(self.bound):
            if lowered == array:
                return element
            if lowered.startswith(array + "."):
                return self._walk(element, path[len(array) + 1 :])
        if "[*]" in path:
            raise PolicyRuleError(f"'[*]' outside a count is not supported: {field!r}")
        return self._walk(self.resource, path)

    @staticmethod
    def _walk(obj: Any, path: str) -> Any:
        for part in path.split("."):
            obj = _get(obj, part)
        return obj

    def count(self, spec: Mapping[str, Any]) -> int:
        field = _get(spec, "field")
        if not isinstance(field, str) or not field.endswith("[*]"):
            raise PolicyRuleError(f"only field counts over an array are supported: {spec!r}")
        array_path = self.path_of(field)
        items = self.field(field[: -len("[*]")])
        items = items if isinstance(items, list) else []
        where = _get(spec, "where")
        if where is None:
            return len(items)
        key = array_path.lower()
        return sum(
            holds(where, RuleContext(self.resource, self.params, (*self.bound, (key, item))))
            for item in items
        )


def holds(condition: Mapping[str, Any], ctx: RuleContext) -> bool:
    """Whether a policy condition (``allOf``/``anyOf``/``not`` or a leaf) is true for the resource."""
    lower = {str(k).lower(): v for k, v in condition.items()}
    if "allof" in lower:
        return all(holds(c, ctx) for c in lower["allof"])
    if "anyof" in lower:
        return any(holds(c, ctx) for c in lower["anyof"])
    if "not" in lower:
        return not holds(lower["not"], ctx)
    if "field" in lower:
        left = ctx.field(str(lower["field"]))
    elif "count" in lower:
        left = ctx.count(lower["count"])
    else:
        raise PolicyRuleError(f"unsupported condition {condition!r}")
    ops = [op for op in _OPERATORS if op in lower]
    if len(ops) != 1 or len(lower) != 2:
        raise PolicyRuleError(f"unsupported condition {condition!r}")
    op, right = ops[0], _expr(lower[ops[0]], ctx.params)
    if op in ("in", "notin"):
        if not isinstance(right, list):
            raise PolicyRuleError(f"'{op}' needs an array, got {right!r}")
        found = left is not None and _norm(left) in {_norm(v) for v in right}
        return found if op == "in" else not found
    same = left is not None and _norm(left) == _norm(right)
    return same if op == "equals" else not same


@dataclass(frozen=True, slots=True)
class ReferenceResult:
    """One member of the initiative judged for one deployment."""

    reference_id: str
    definition_id: str
    definition_version: str
    compliant: bool


def set_parameters(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The initiative's parameter values for an assignment: its own, else the defaults."""
    props = assignment.get("properties") if isinstance(assignment.get("properties"), Mapping) else {}
    given = props.get("parameters") if isinstance(props.get("parameters"), Mapping) else {}
    out = {}
    for name, spec in initiative()["properties"]["parameters"].items():
        wrapped = given.get(name)
        if isinstance(wrapped, Mapping) and "value" in wrapped:
            out[name] = wrapped["value"]
        elif "defaultValue" in spec:
            out[name] = spec["defaultValue"]
    return out


def _overridden_effect(assignment: Mapping[str, Any], reference_id: str) -> str | None:
    """The effect an assignment's ``overrides`` give one initiative reference, if any.

    Azure Policy: an override of kind ``policyEffect`` applies to the references its selectors
    pick (kind ``policyDefinitionReferenceId`` with ``in`` or ``notIn``); without selectors it applies
    to every reference. The last matching override wins.
    """
    props = assignment.get("properties") if isinstance(assignment.get("properties"), Mapping) else {}
    overrides = props.get("overrides") if isinstance(props.get("overrides"), list) else []
    effect = None
    for ov in overrides:
        if not isinstance(ov, Mapping) or str(ov.get("kind", "")).lower() != "policyeffect":
            continue
        picked = True
        for sel in ov.get("selectors") or []:
            if not isinstance(sel, Mapping) or str(sel.get("kind", "")).lower() != "policydefinitionreferenceid":
                picked = False
                break
            ins = [str(x).lower() for x in sel.get("in") or []]
            outs = [str(x).lower() for x in sel.get("notIn") or []]
            if ("in" in sel and reference_id.lower() not in ins) or reference_id.lower() in outs:
                picked = False
        if picked:
            effect = str(ov.get("value", ""))
    return effect


def judge(
    assignment: Mapping[str, Any],
    deployment: Mapping[str, Any],
    rai_policies: Mapping[str, Mapping[str, Any]],
) -> list[ReferenceResult]:
    """Every initiative member whose effect is not ``Disabled``, judged for one deployment."""
    resource = data_resource(deployment, rai_policies)
    outer = set_parameters(assignment)
    out = []
    for ref in initiative()["properties"]["policyDefinitions"]:
        definition = definitions().get(ref["policyDefinitionId"].lower())
        if definition is None:
            raise PolicyRuleError(f"no built-in definition {ref['policyDefinitionId']!r} in {BUILTINS}")
        dprops = definition["properties"]
        given = ref.get("parameters") or {}
        params = {}
        for name, spec in dprops.get("parameters", {}).items():
            if name in given:
                params[name] = _expr(given[name]["value"], outer)
            elif "defaultValue" in spec:
                params[name] = spec["defaultValue"]
        rule = dprops["policyRule"]
        effect = _overridden_effect(assignment, ref["policyDefinitionReferenceId"]) or _expr(
            rule["then"]["effect"], params
        )
        if str(effect).lower() == "disabled":
            continue
        applies = holds(rule["if"], RuleContext(resource, params))
        out.append(
            ReferenceResult(
                ref["policyDefinitionReferenceId"],
                definition["id"],
                str(dprops.get("version", "")),
                not applies,
            )
        )
    return out


def noncompliant(
    assignment: Mapping[str, Any],
    deployment: Mapping[str, Any],
    rai_policies: Mapping[str, Mapping[str, Any]],
) -> set[str]:
    """The reference ids of the initiative a deployment fails under an assignment's parameters.

    ``assignment``/``deployment``: ARM bodies; ``rai_policies``: the account's RAI policy bodies by name.
    """
    return {r.reference_id for r in judge(assignment, deployment, rai_policies) if not r.compliant}
