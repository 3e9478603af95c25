"""The admission policy against real allowed/disallowed manifests from public policy libraries.

``<testdata>/admission/index.json`` (``PROPOLIS_TESTDATA``, default ``../shared/testdata``) lists
81 labelled cases from the gatekeeper-library and kubewarden/policies suites. Each upstream case
is judged under one constraint (gatekeeper ``constraint.yaml``) or one settings document
(kubewarden), so every case is evaluated here with only the matching Propolis rule(s) enabled and
the upstream parameters translated into ``data.propolis.admission`` overrides
(:func:`translate`). The decision comes from the real bundle compiled by the project's engine
(``RegorusEngine``, as ``tests/test_engine.py`` does) and its ``allow`` must equal the label.

Translation notes (how upstream semantics map onto Propolis rules):

- gatekeeper's pod-security templates ignore ``UPDATE`` requests (pod security fields cannot
  change on a running pod); that becomes an exemption for operation ``UPDATE``.
- ``K8sPSPAllowedUsers`` with ``runAsUser: MustRunAsNonRoot`` maps onto the Pod Security Standards
  restricted controls "Running as Non-root" and "Running as Non-root user". Those are stricter
  (``runAsNonRoot: true`` is required even with a non-zero ``runAsUser``); no sample exercises
  the difference. Other ``MustRunAs`` rules are not translated: such a case fails loudly.
- ``K8sAllowedRepos`` / ``K8sDisallowedRepos`` match the image as written by string prefix;
  a prefix naming no registry (``openpolicyagent/``) is a Docker Hub prefix, so it is given to
  Propolis as ``docker.io/openpolicyagent``.
- kubewarden's capabilities policy mutates: it adds missing ``required_drop_capabilities`` to the
  drop list instead of rejecting. Propolis does not mutate, so only its validating part is
  translated (``capability_not_allowed`` and ``capability_required_drop_added``).
- kubewarden's hostpaths e2e tests pass their settings inline in ``e2e.bats``, which the test
  data does not copy; :data:`KUBEWARDEN_HOSTPATH_SETTINGS` holds them as upstream writes them.
- The one case whose settings kubewarden itself rejects (an invalid image reference in
  ``images.allow``) must be refused by Propolis too: the policy denies every request with
  ``admission_config_invalid`` until its configuration is fixed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource
from tests.conftest import POLICIES
from tests.scanner.fixtures import TESTDATA

ADMISSION = TESTDATA / "admission"
INDEX = ADMISSION / "index.json"
DECISION = "propolis/admission/decision"
SETTINGS_REJECTED = "settings rejected (policy not evaluated)"

# kubewarden/hostpaths-psp-policy e2e.bats, test name -> --settings-json.
KUBEWARDEN_HOSTPATH_SETTINGS: dict[str, dict[str, Any]] = {
    "reject because /data is not in settings": {"allowedHostPaths": [
        {"pathPrefix": "/var", "readOnly": False}, {"pathPrefix": "/var/local/aaa", "readOnly": False}]},
    "accept because pod has no hostPath volumes": {"allowedHostPaths": [{"pathPrefix": "/foo", "readOnly": True}]},
    "accept because /var/local has precedence over /var": {"allowedHostPaths": [
        {"pathPrefix": "/var", "readOnly": False}, {"pathPrefix": "/var/local", "readOnly": True}]},
}

# Cases whose decision differs from the label on purpose: (source, policy, test, case) -> why.
# Empty: every case agrees.
EXPECTED_DIFFERENCES: dict[tuple[str, str, str, str], str] = {}


def _cases() -> list[dict[str, Any]]:
    if not INDEX.is_file():
        return []
    return list(json.loads(INDEX.read_text())["cases"])


def _case_id(c: dict[str, Any]) -> str:
    return f"{c['source'].split('/')[0]}:{c['policy']}:{c['test']}:{c.get('case', '')}".rstrip(":")


def _key(c: dict[str, Any]) -> tuple[str, str, str, str]:
    return (c["source"], c["policy"], c["test"], c.get("case", ""))


# ---------------------------------------------------------------------------- inputs
def admission_input(path: Path) -> dict[str, Any]:
    """The AdmissionReview v1 (``{"request": ...}``) for one object file."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    assert len(docs) == 1, f"{path}: expected one document, found {len(docs)}"
    doc = docs[0]
    if doc.get("kind") == "AdmissionReview":  # admission.k8s.io/v1beta1 review: its request
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": doc["request"]}
    if "uid" in doc and "object" in doc:  # kubewarden: already an AdmissionRequest
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": doc}
    meta = doc.get("metadata") or {}
    group, _, version = str(doc.get("apiVersion", "v1")).rpartition("/")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": group, "version": version, "kind": doc.get("kind", "Pod")},
        "operation": "CREATE",
        "namespace": meta.get("namespace", "default"),
        "name": meta.get("name", ""),
        "object": doc,
    }}


# ---------------------------------------------------------------------------- configuration
def _only(*rules: str, level: str = "privileged", **settings: Any) -> dict[str, Any]:
    """Overrides that enable just ``rules`` (Pod Security Standards at ``level``)."""
    return {"pod_security": {"default": level, "namespaces": {}}, "enabled_rules": list(rules),
            "disabled_rules": [], "exemptions": [], **settings}


def _docker_hub_prefix(prefix: str) -> str:
    """A gatekeeper repo prefix as written -> the normalised registry/path prefix."""
    first = prefix.split("/", 1)[0]
    if "/" in prefix and ("." in first or ":" in first or first == "localhost"):
        return prefix
    return "docker.io/" + prefix


def translate_gatekeeper(constraint: dict[str, Any]) -> dict[str, Any]:
    kind = constraint["kind"]
    params = (constraint.get("spec") or {}).get("parameters") or {}
    excluded = ((constraint.get("spec") or {}).get("match") or {}).get("excludedNamespaces") or []
    if kind == "K8sPSPPrivilegedContainer":
        cfg = _only("pss_baseline_privileged", level="baseline")
        cfg["pod_security"]["namespaces"] = {ns: "privileged" for ns in excluded}
        if params.get("exemptImages"):
            cfg["exemptions"].append({"rules": ["pss_baseline_privileged"], "images": params["exemptImages"]})
    elif kind == "K8sPSPHostFilesystem":
        cfg = _only("host_path_volume")
        if "allowedHostPaths" in params:  # absent: no hostPath at all
            cfg["allowed_host_paths"] = params["allowedHostPaths"]
    elif kind == "K8sPSPHostNamespace":  # hostPID and hostIPC; hostNetwork is K8sPSPHostNetworkingPorts'
        cfg = _only("host_namespace", allowed_host_namespaces=["hostNetwork"])
    elif kind == "K8sPSPHostNetworkingPorts":
        allowed = ["hostPID", "hostIPC"] + (["hostNetwork"] if params.get("hostNetwork") else [])
        cfg = _only("host_namespace", allowed_host_namespaces=allowed)
        if "min" in params and "max" in params:  # without a range upstream checks no port
            cfg["enabled_rules"].append("host_port")
            cfg["allowed_host_ports"] = [{"min": params["min"], "max": params["max"]}]
            if params.get("exemptImages"):
                cfg["exemptions"].append({"rules": ["host_port"], "images": params["exemptImages"]})
    elif kind == "K8sPSPCapabilities":
        cfg = _only("capability_not_allowed", "capability_drop_required",
                    allowed_capabilities=params.get("allowedCapabilities", []),
                    required_drop_capabilities=params.get("requiredDropCapabilities", []))
    elif kind == "K8sPSPAllowedUsers":
        user_rules: list[str] = []
        for field in ("runAsUser", "runAsGroup", "supplementalGroups", "fsGroup"):
            rule = (params.get(field) or {}).get("rule", "RunAsAny")
            if field == "runAsUser" and rule == "MustRunAsNonRoot":
                user_rules += ["pss_restricted_run_as_non_root", "pss_restricted_run_as_user"]
            elif rule != "RunAsAny":
                raise NotImplementedError(f"K8sPSPAllowedUsers {field} rule {rule} is not translated")
        cfg = _only(*user_rules, level="restricted")
    elif kind == "K8sAllowedRepos":
        cfg = _only("image_registry_not_allowed",
                    allowed_registries=[_docker_hub_prefix(r) for r in params.get("repos", [])])
    elif kind == "K8sDisallowedRepos":
        cfg = _only("image_registry_denied",
                    denied_registries=[_docker_hub_prefix(r) for r in params.get("repos", [])])
    else:
        raise NotImplementedError(f"no translation for gatekeeper constraint kind {kind}")
    if kind.startswith("K8sPSP"):  # the pod-security templates skip UPDATE requests
        cfg["exemptions"].append({"operations": ["UPDATE"]})
    return cfg


def translate_kubewarden(policy: str, settings: dict[str, Any]) -> dict[str, Any]:
    if policy == "pod-privileged-policy":
        cfg = _only("pss_baseline_privileged", level="baseline")
        skipped = [lst for key, lst in (("skip_init_containers", "initContainers"),
                                        ("skip_ephemeral_containers", "ephemeralContainers")) if settings.get(key)]
        if skipped:
            cfg["exemptions"].append({"rules": ["pss_baseline_privileged"], "container_lists": skipped})
        return cfg
    if policy == "host-namespaces-psp-policy":
        allowed = [field for key, field in (("allow_host_ipc", "hostIPC"), ("allow_host_network", "hostNetwork"),
                                            ("allow_host_pid", "hostPID")) if settings.get(key)]
        return _only("host_namespace", "host_port", allowed_host_namespaces=allowed,
                     allowed_host_ports=settings.get("allow_host_ports", []))
    if policy == "hostpaths-psp-policy":
        paths = settings.get("allowedHostPaths") or []
        return _only("host_path_volume", allowed_host_paths=paths) if paths else _only()  # empty: accept all
    if policy == "capabilities-psp-policy":
        return _only("capability_not_allowed", "capability_required_drop_added",
                     allowed_capabilities=settings.get("allowed_capabilities", []),
                     required_drop_capabilities=settings.get("required_drop_capabilities", []))
    if policy == "trusted-repos-policy":
        registries, images, tags = (settings.get(k) or {} for k in ("registries", "images", "tags"))
        cfg = _only()
        if "allow" in registries:
            cfg["enabled_rules"].append("image_registry_not_allowed")
            cfg["allowed_registries"] = registries["allow"]
        if "reject" in registries:
            cfg["enabled_rules"].append("image_registry_denied")
            cfg["denied_registries"] = registries["reject"]
        if "allow" in images:
            cfg["enabled_rules"].append("image_not_allowed")
            cfg["allowed_images"] = images["allow"]
        if "reject" in images:
            cfg["enabled_rules"].append("image_denied")
            cfg["denied_images"] = images["reject"]
        if "reject" in tags:
            cfg["enabled_rules"].append("image_tag_not_pinned")
            cfg["denied_tags"] = tags["reject"]
        return cfg
    if policy == "allow-privilege-escalation-psp-policy":
        if settings.get("allowPrivilegeEscalation", False):
            return _only()
        return _only("privilege_escalation_allowed", privilege_escalation_unset="allow")
    raise NotImplementedError(f"no translation for kubewarden policy {policy}")


def translate(case: dict[str, Any]) -> dict[str, Any]:
    """The ``data.propolis.admission`` overrides that stand for the case's upstream configuration."""
    if case["source"] == "gatekeeper-library":
        return translate_gatekeeper(yaml.safe_load((ADMISSION / case["policy_config"]).read_text()))
    settings: dict[str, Any] = {}
    if case.get("policy_config"):
        settings = json.loads((ADMISSION / case["policy_config"]).read_text())
    elif "policy_settings_json" in case:
        settings = case["policy_settings_json"]
    elif case["policy"] == "hostpaths-psp-policy":
        settings = KUBEWARDEN_HOSTPATH_SETTINGS[case["test"]]
    return translate_kubewarden(case["policy"], settings)


# ---------------------------------------------------------------------------- evaluation
@functools.cache
def _bundle() -> Any:
    bundle = DirectorySource(POLICIES).fetch()
    # Decisions do not depend on Rego unit tests: leave them out, so that a test module being
    # edited elsewhere in the tree cannot stop this policy from compiling.
    modules = {k: v for k, v in bundle.modules.items() if not k.endswith("_test.rego")}
    return dataclasses.replace(bundle, modules=modules)


@functools.cache
def _compiled(overrides_json: str) -> Any:
    bundle = _bundle()
    data = json.loads(json.dumps(bundle.data))
    data["propolis"]["admission"] = {**data["propolis"]["admission"], **json.loads(overrides_json)}
    return RegorusEngine().compile(dataclasses.replace(bundle, data=data), [DECISION])


def decide(case: dict[str, Any]) -> dict[str, Any]:
    compiled = _compiled(json.dumps(translate(case), sort_keys=True))
    result = compiled.evaluate(DECISION, json.dumps(admission_input(ADMISSION / case["file"])))
    assert isinstance(result, dict) and isinstance(result.get("allow"), bool), result
    return result


def _require_testdata() -> None:
    if INDEX.is_file():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"test data {INDEX} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
    pytest.skip(f"test data {INDEX} not found; set PROPOLIS_TESTDATA to the shared testdata folder")


CASES = _cases()
# Without the test data, one placeholder case that skips (or fails under CI=true).
PARAMS: list[dict[str, Any] | None] = [*CASES] or [None]


def test_the_corpus_is_present_and_complete() -> None:
    _require_testdata()
    assert len(CASES) == 81
    assert {c["expected"] for c in CASES} == {"allowed", "denied", SETTINGS_REJECTED}


@pytest.mark.parametrize("case", PARAMS, ids=[_case_id(c) for c in CASES] or ["no-testdata"])
def test_decision_agrees_with_the_upstream_label(case: dict[str, Any] | None) -> None:
    _require_testdata()
    assert case is not None
    d = decide(case)
    if case["expected"] == SETTINGS_REJECTED:
        # Invalid settings: Propolis refuses every request, naming the bad setting.
        assert d["allow"] is False
        assert d["reasons"] and all(r.startswith("admission_config_invalid: ") for r in d["reasons"]), d["reasons"]
        return
    allowed = case["expected"] == "allowed"
    if _key(case) in EXPECTED_DIFFERENCES:
        assert d["allow"] is not allowed, "an expected difference now agrees: remove it from the table"
        return
    assert d["allow"] is allowed, (case["expected"], d["reasons"])
    if not allowed:  # the denial comes from a rule the case is about, with its rule id
        enabled = set(translate(case)["enabled_rules"])
        assert {v["rule"] for v in d["violations"] if v["effect"] == "deny"} <= enabled


def test_agreement_figure() -> None:
    """Every case agrees (a refused configuration counts as agreeing with "settings rejected")."""
    _require_testdata()
    agree = 0
    for case in CASES:
        d = decide(case)
        if case["expected"] == SETTINGS_REJECTED:
            agree += d["allow"] is False and all(r.startswith("admission_config_invalid") for r in d["reasons"])
        else:
            agree += d["allow"] is (case["expected"] == "allowed")
    assert (agree, len(CASES)) == (len(CASES) - len(EXPECTED_DIFFERENCES), len(CASES)), f"{agree}/{len(CASES)} agree"
