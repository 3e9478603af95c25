package propolis.registry_test

import rego.v1

import data.propolis.registry

_digest := "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

_image := {
	"registry": "registry.propolis.internal",
	"repository": "payments/api",
	"tag": "1.4.2",
	"digest": _digest,
	"signed": true,
	"risk": {"score": 35.5},
	"findings_summary": {"critical": 0, "high": 2, "medium": 7, "low": 12, "fixable": {"critical": 0, "high": 1}},
}

_with(patch) := {"image": object.union(_image, patch)}

_decide(inp) := d if {
	d := registry.decision with input as inp
		with data.propolis.registry.require_signature as true
		with data.propolis.registry.max_score as 70
		with data.propolis.registry.block_fixable_severities as ["critical"]
}

_rule_names(messages) := {split(m, ":")[0] | some m in messages}

_denied_by(d, rules) if {
	d.allow == false
	d.quarantine == true
	_rule_names(d.reasons) == rules
}

test_clean_image_allowed if {
	d := _decide({"image": _image})
	d.allow == true
	d.quarantine == false
	d.reasons == []
	d.image == concat("", ["registry.propolis.internal/payments/api:1.4.2@", _digest])
}

test_missing_image_quarantined if {
	_denied_by(_decide({}), {"image_missing"})
	_denied_by(_decide({"image": "registry.propolis.internal/payments/api:1.4.2"}), {"image_missing"})
}

test_unsigned_image_quarantined if {
	d := _decide(_with({"signed": false}))
	_denied_by(d, {"signature_required"})
	contains(d.reasons[0], "image registry.propolis.internal/payments/api:1.4.2@sha256:")
}

test_signed_must_be_boolean_true if {
	_denied_by(_decide(_with({"signed": "true"})), {"signature_required"})
	_denied_by(_decide({"image": object.remove(_image, ["signed"])}), {"signature_required"})
}

test_unsigned_allowed_when_signatures_not_required if {
	d := registry.decision with input as _with({"signed": false})
		with data.propolis.registry.require_signature as false
	d.allow == true
	d.quarantine == false
}

test_risk_score_above_max_quarantined if {
	d := _decide(_with({"risk": {"score": 88.25}}))
	_denied_by(d, {"risk_score_too_high"})
	contains(d.reasons[0], "risk score 88.25, above data.propolis.registry.max_score 70")
}

test_risk_score_at_max_allowed if {
	_decide(_with({"risk": {"score": 70}})).allow == true
}

test_max_score_comes_from_data if {
	d := registry.decision with input as _with({"risk": {"score": 35.5}})
		with data.propolis.registry.max_score as 30
	_denied_by(d, {"risk_score_too_high"})
}

test_missing_risk_score_quarantined if {
	_denied_by(_decide({"image": object.remove(_image, ["risk"])}), {"risk_score_missing"})
	_denied_by(_decide(_with({"risk": {"score": "high"}})), {"risk_score_missing"})
	_denied_by(_decide(_with({"risk": null})), {"risk_score_missing"})
}

test_fixable_critical_findings_quarantined if {
	d := _decide(_with({"findings_summary": {"critical": 3, "fixable": {"critical": 2}}}))
	_denied_by(d, {"fixable_findings"})
	contains(d.reasons[0], "has 2 critical finding(s) with a fix available")
}

test_fixable_critical_flat_form_quarantined if {
	d := _decide(_with({"findings_summary": {"critical": 1, "critical_fixable": 1}}))
	_denied_by(d, {"fixable_findings"})
}

test_unfixable_critical_findings_allowed if {
	_decide(_with({"findings_summary": {"critical": 4, "fixable": {"critical": 0, "high": 3}}})).allow == true
	_decide(_with({"findings_summary": {"critical": 4}})).allow == true
}

test_fixable_high_blocked_when_configured if {
	d := registry.decision with input as {"image": _image}
		with data.propolis.registry.block_fixable_severities as ["critical", "HIGH"]
	_denied_by(d, {"fixable_findings"})
	contains(d.reasons[0], "1 high finding(s)")
}

test_malformed_summary_does_not_error if {
	_decide(_with({"findings_summary": {"fixable": "lots", "critical_fixable": "2"}})).allow == true
	_decide(_with({"findings_summary": "none"})).allow == true
}

test_every_rule_reported_sorted if {
	d := _decide(_with({"signed": false, "risk": {"score": 99}, "findings_summary": {"fixable": {"critical": 1}}}))
	_denied_by(d, {"signature_required", "risk_score_too_high", "fixable_findings"})
	d.reasons == sort(d.reasons)
}

test_image_name_without_registry_field if {
	d := _decide({"image": {"repository": "ghcr.io/propolis/agent", "tag": "0.3.1", "signed": true, "risk": {"score": 1}}})
	d.allow == true
	d.image == "ghcr.io/propolis/agent:0.3.1"
}

test_image_name_when_repository_already_qualified if {
	d := _decide({"image": {"registry": "ghcr.io", "repository": "ghcr.io/propolis/agent", "digest": _digest, "signed": false, "risk": {"score": 1}}})
	d.image == concat("", ["ghcr.io/propolis/agent@", _digest])
}

test_image_name_unknown if {
	d := _decide({"image": {"signed": false}})
	startswith(d.reasons[0], "risk_score_missing: image <unknown repository> has no numeric risk.score")
}
