package propolis.admission_risk_test

import rego.v1

import data.propolis.admission

_image := "registry.propolis.internal/payments/api@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

_tagged := "registry.propolis.internal/payments/api:1.4.2"

_spec(images) := {
	"automountServiceAccountToken": false,
	"securityContext": {"runAsNonRoot": true},
	"containers": [{
		"name": sprintf("c%d", [i]),
		"image": image,
		"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
		"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
	} |
		some i, image in images
	],
}

_review(ns, images, facts) := {
	"request": {
		"uid": "u1",
		"kind": {"group": "", "version": "v1", "kind": "Pod"},
		"operation": "CREATE",
		"namespace": ns,
		"object": {"kind": "Pod", "metadata": {"name": "api"}, "spec": _spec(images)},
	},
	"risk": {"images": facts},
	"now": "2026-01-01T00:00:00Z",
}

_rules(d) := {v.rule | some v in d.violations}

_effects(d) := {[v.rule, v.effect] | some v in d.violations}

test_clean_image_is_allowed if {
	d := admission.decision with input as _review("payments", [_image], {_image: {"score": 10, "digest": "sha256:aa"}})
	d.allow
	count(_rules(d)) == 0
	d.mode == "enforce"
	d.enforcement == {"mode": "enforce", "allowed": true, "warnings": []}
}

test_score_above_block_bar_denies if {
	d := admission.decision with input as _review("payments", [_image], {_image: {"score": 61, "digest": "sha256:aa"}})
	not d.allow
	_rules(d) == {"image_risk_blocked"}
	startswith(d.reasons[0], "image_risk_blocked: container 'c0' of Pod payments/api")
	contains(d.reasons[0], "risk score 61, above the deploy block bar 60")
	not d.enforcement.allowed
}

test_score_above_warn_bar_warns if {
	d := admission.decision with input as _review("payments", [_image], {_image: {"score": 45, "digest": "sha256:aa"}})
	d.allow
	_effects(d) == {["image_risk_high", "warn"]}
	contains(d.warnings[0], "above the deploy warn bar 30 (block bar 60)")
}

test_bars_come_from_the_checkpoints_data_and_namespace_overrides if {
	inp := _review("payments", [_image], {_image: {"score": 61, "digest": "sha256:aa"}})
	d1 := admission.decision with input as inp with data.propolis.checkpoints.bars.deploy as {"warn": 70, "block": 90}
	d1.allow
	count(_rules(d1)) == 0
	d2 := admission.decision with input as inp
		with data.propolis.checkpoints.namespace_overrides as {"payments": {"deploy": {"block": 50}}}
	_rules(d2) == {"image_risk_blocked"}
	d2.reasons[0] == concat("", [
		"image_risk_blocked: container 'c0' of Pod payments/api uses image '", _image,
		"' (spec.containers[0].image) with risk score 61, above the deploy block bar 50",
	])
	d3 := admission.decision with input as inp
		with data.propolis.checkpoints.namespace_overrides as {"other": {"deploy": {"block": 50}}}
		with data.propolis.checkpoints.bars.deploy as {"warn": "x", "block": 62}
	admission.deploy_bar == {"warn": 30, "block": 62} with input as inp with data.propolis.checkpoints.bars.deploy as {"warn": "x", "block": 62}
	_effects(d3) == {["image_risk_high", "warn"]}
}

test_unknown_images_default_to_a_warning if {
	d := admission.decision with input as _review("payments", [_tagged], {_tagged: {"unknown": true}})
	d.allow
	_effects(d) == {["image_risk_unknown", "warn"]}
}

test_unknown_images_tunable if {
	inp := _review("payments", [_tagged], {_tagged: {"unknown": true}})
	d1 := admission.decision with input as inp with data.propolis.admission.unknown_images as "deny"
	_effects(d1) == {["image_risk_unknown", "deny"]}
	not d1.allow
	d2 := admission.decision with input as inp with data.propolis.admission.unknown_images as "allow"
	count(_rules(d2)) == 0
	d3 := admission.decision with input as inp with data.propolis.admission.unknown_images as "maybe"
	_rules(d3) == {"admission_config_invalid"}
}

test_unavailable_scores_follow_the_risk_failure_policy if {
	inp := _review("payments", [_image], {_image: {"unavailable": true}})
	d1 := admission.decision with input as inp
	d1.allow
	_effects(d1) == {["image_risk_unavailable", "warn"]}
	d2 := admission.decision with input as inp with data.propolis.admission.failure_policy as {"risk": "closed"}
	_effects(d2) == {["image_risk_unavailable", "deny"]}
	contains(d2.reasons[0], "failure_policy.risk: closed")
}

test_effective_failure_policy if {
	admission.effective_failure_policy == {"risk": "open", "evaluation": "closed"}
	admission.effective_failure_policy == {"risk": "closed", "evaluation": "open"} with data.propolis.admission.failure_policy as {"risk": "closed", "evaluation": "open"}
	admission.effective_failure_policy == {"risk": "closed", "evaluation": "closed"} with data.propolis.admission.failure_policy as {"risk": "ajar"}
}

test_failure_policy_misconfigured if {
	inp := _review("payments", [_image], {})
	d1 := admission.decision with input as inp with data.propolis.admission.failure_policy as {"risk": "ajar"}
	_rules(d1) == {"admission_config_invalid"}
	d2 := admission.decision with input as inp with data.propolis.admission.failure_policy as {"network": "open"}
	contains(d2.reasons[0], "unknown rule groups")
	d3 := admission.decision with input as inp with data.propolis.admission.failure_policy as "open"
	contains(d3.reasons[0], "failure_policy is not an object")
}

test_require_attestation if {
	inp := _review("payments", [_image], {_image: {"score": 1, "digest": "sha256:aa", "attested": false}})
	d0 := admission.decision with input as inp
	d0.allow
	d1 := admission.decision with input as inp with data.propolis.admission.require_attestation as true
	_rules(d1) == {"image_not_attested"}
	inp2 := _review("payments", [_image], {_image: {"score": 1, "digest": "sha256:aa", "attested": true}})
	d2 := admission.decision with input as inp2 with data.propolis.admission.require_attestation as true
	d2.allow
	d3 := admission.decision with input as inp with data.propolis.admission.require_attestation as "yes"
	contains(d3.reasons[0], "require_attestation is yes")
}

test_no_risk_facts_no_risk_rules if {
	inp := object.remove(_review("payments", [_image], {}), ["risk"])
	d := admission.decision with input as inp with data.propolis.admission.require_attestation as true
	d.allow
}

test_warn_mode_turns_denials_into_warnings if {
	inp := _review("payments", [_image], {_image: {"score": 99, "digest": "sha256:aa"}})
	d := admission.decision with input as inp with data.propolis.admission.modes as {"default": "enforce", "namespaces": {"payments": "warn"}}
	not d.allow
	d.mode == "warn"
	d.enforcement.allowed
	startswith(d.enforcement.warnings[0], "image_risk_blocked: ")
}

test_audit_mode_allows_and_returns_nothing if {
	inp := _review("payments", [_image], {_image: {"score": 99, "digest": "sha256:aa"}})
	d := admission.decision with input as inp with data.propolis.admission.modes as {"default": "audit"}
	not d.allow
	d.enforcement == {"mode": "audit", "allowed": true, "warnings": []}
}

test_a_broken_configuration_denies_in_every_mode if {
	inp := _review("payments", [_image], {_image: {"unknown": true}})
	d := admission.decision with input as inp
		with data.propolis.admission.modes as {"default": "audit"}
		with data.propolis.admission.unknown_images as 3
	d.mode == "audit"
	not d.enforcement.allowed
}

test_misconfigured_modes_enforce if {
	inp := _review("payments", [_image], {})
	d1 := admission.decision with input as inp with data.propolis.admission.modes as {"default": "loose"}
	d1.mode == "enforce"
	_rules(d1) == {"admission_config_invalid"}
	d2 := admission.decision with input as inp with data.propolis.admission.modes as {"namespaces": {"payments": "x"}}
	d2.mode == "enforce"
	contains(d2.reasons[0], "modes.namespaces[payments] is x")
	d3 := admission.decision with input as inp with data.propolis.admission.modes as ["warn"]
	contains(d3.reasons[0], "modes is not an object")
	d4 := admission.decision with input as inp with data.propolis.admission.modes as {"namespaces": {"other": "audit"}}
	d4.mode == "enforce"
	d4.allow
}

test_exemptions_expire if {
	inp := _review("payments", [_image], {_image: {"score": 99, "digest": "sha256:aa"}})
	live := [{"id": "api-risk", "owner": "team-payments", "rules": ["image_risk_blocked"], "expires": "2026-02-01T00:00:00Z"}]
	d1 := admission.decision with input as inp with data.propolis.admission.exemptions as live
	d1.allow
	d1.exemptions == ["api-risk"]
	lapsed := [{"rules": ["image_risk_blocked"], "expires": "2025-12-01T00:00:00Z"}]
	d2 := admission.decision with input as inp with data.propolis.admission.exemptions as lapsed
	not d2.allow
	forever := [{"rules": ["image_risk_blocked"]}]
	d3 := admission.decision with input as inp with data.propolis.admission.exemptions as forever
	d3.allow
	broken := [{"rules": ["image_risk_blocked"], "expires": "next week"}]
	d4 := admission.decision with input as inp with data.propolis.admission.exemptions as broken
	_rules(d4) == {"admission_config_invalid"}
	contains(d4.reasons[0], "exemptions[0].expires next week is not an RFC 3339 time")
}

test_risk_rules_obey_enabled_and_disabled_rules if {
	inp := _review("payments", [_image], {_image: {"score": 99, "digest": "sha256:aa"}})
	d := admission.decision with input as inp with data.propolis.admission.disabled_rules as ["image_risk_blocked"]
	d.allow
}

test_applied_exemptions_are_named_by_id_or_index if {
	inp := _review("payments", [_image], {_image: {"score": 99, "digest": "sha256:aa"}})
	ex := ["not an object", {"rules": ["pss_baseline_privileged"]}, {"rules": ["image_risk_blocked"], "namespaces": ["payments"]}]
	d := admission.decision with input as inp with data.propolis.admission.exemptions as ex
	d.allow
	d.exemptions == ["exemption-1"]
	d0 := admission.decision with input as inp
	d0.exemptions == []
}
