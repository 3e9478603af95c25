package propolis.registry_test

import rego.v1

import data.propolis.registry

_digest := "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

_input := {
	"image": {
		"registry": "registry.propolis.internal",
		"repository": "payments/api",
		"tag": "1.4.2",
		"digest": _digest,
	},
	"scan": {
		"error": "",
		"partial": false,
		"partial_reasons": [],
		"findings_summary": {"critical": 0, "high": 2, "medium": 7, "fixable": {"critical": 0, "high": 1}},
	},
	"checkpoint": {"verdict": "allow", "reasons": [], "score": 35.5, "bar": {"warn": 40, "block": 70}},
}

_with(key, patch) := object.union(_input, {key: object.union(_input[key], patch)})

_decide(inp) := d if {
	d := registry.decision with input as inp
		with data.propolis.registry.require_signature as false
		with data.propolis.registry.block_fixable_severities as ["critical"]
		with data.propolis.registry.block_partial_scans as false
}

_rule_names(messages) := {split(m, ":")[0] | some m in messages}

_denied_by(d, rules) if {
	d.allow == false
	d.quarantine == true
	_rule_names(d.reasons) == rules
}

test_clean_image_allowed if {
	d := _decide(_input)
	d.allow == true
	d.quarantine == false
	d.reasons == []
	d.warnings == []
	d.score == 35.5
	d.image == concat("", ["registry.propolis.internal/payments/api:1.4.2@", _digest])
}

test_missing_image_quarantined if {
	_denied_by(_decide({}), {"image_missing"})
	_denied_by(_decide(object.union(_input, {"image": "registry.propolis.internal/payments/api:1.4.2"})), {"image_missing"})
	_denied_by(_decide("not an object"), {"image_missing"})
}

test_checkpoint_block_quarantines_with_its_reasons if {
	d := _decide(_with("checkpoint", {"verdict": "block", "score": 88, "reasons": ["score 88 above the registry block bar 70"]}))
	_denied_by(d, {"checkpoint_blocked"})
	contains(d.reasons[0], "score 88 above the registry block bar 70")
	contains(d.reasons[0], "payments/api:1.4.2@sha256:")
	d.score == 88
}

test_checkpoint_warn_allows_with_warning if {
	d := _decide(_with("checkpoint", {"verdict": "warn", "score": 55, "reasons": ["score 55 above the warn bar 40"]}))
	d.allow == true
	_rule_names(d.warnings) == {"checkpoint_warning"}
	contains(d.warnings[0], "score 55 above the warn bar 40")
}

test_checkpoint_missing_or_unknown_quarantines if {
	_denied_by(_decide(object.remove(_input, ["checkpoint"])), {"checkpoint_missing"})
	_denied_by(_decide(_with("checkpoint", {"verdict": "maybe"})), {"checkpoint_missing"})
	_denied_by(_decide(_with("checkpoint", {"verdict": null})), {"checkpoint_missing"})
}

test_scan_error_is_unverifiable if {
	d := _decide(_with("scan", {"error": "blob sha256:ab unknown to registry"}))
	_denied_by(d, {"image_unverifiable"})
	contains(d.reasons[0], "blob sha256:ab unknown to registry")
}

test_scan_error_wins_over_missing_checkpoint if {
	inp := object.remove(_with("scan", {"error": "manifest unknown"}), ["checkpoint"])
	_denied_by(_decide(inp), {"image_unverifiable"})
}

test_fixable_critical_quarantines_even_under_the_bar if {
	d := _decide(_with("scan", {"findings_summary": {"critical": 1, "fixable": {"critical": 1}}}))
	_denied_by(d, {"fixable_findings"})
	contains(d.reasons[0], "1 critical finding(s) with a fix available")
}

test_fixable_severities_from_data if {
	inp := _with("scan", {"findings_summary": {"high": 2, "fixable": {"high": 2}}})
	_decide(inp).allow == true
	d := registry.decision with input as inp with data.propolis.registry.block_fixable_severities as ["CRITICAL", "High"]
	_denied_by(d, {"fixable_findings"})
}

test_unfixable_critical_is_left_to_the_score if {
	_decide(_with("scan", {"findings_summary": {"critical": 3, "fixable": {"critical": 0}}})).allow == true
}

test_signature_required_when_configured if {
	d := registry.decision with input as _input with data.propolis.registry.require_signature as true
	_denied_by(d, {"signature_required"})
	signed := object.union(_input, {"image": object.union(_input.image, {"signed": true})})
	registry.decision.allow with input as signed with data.propolis.registry.require_signature as true
	as_string := object.union(_input, {"image": object.union(_input.image, {"signed": "true"})})
	d2 := registry.decision with input as as_string with data.propolis.registry.require_signature as true
	_denied_by(d2, {"signature_required"})
}

test_signature_not_required_by_default if {
	registry.decision.allow with input as _input with data.propolis.registry.require_signature as null
}

test_partial_scan_warns_by_default if {
	d := _decide(_with("scan", {"partial": true, "partial_reasons": ["layer 3: truncated", 7]}))
	d.allow == true
	_rule_names(d.warnings) == {"partial_scan"}
	contains(d.warnings[0], "layer 3: truncated")
}

test_partial_scan_denied_when_configured if {
	inp := _with("scan", {"partial": true, "partial_reasons": ["layer 3: truncated"]})
	d := registry.decision with input as inp with data.propolis.registry.block_partial_scans as true
	_denied_by(d, {"partial_scan"})
	d.warnings == []
}

test_several_reasons_sorted if {
	inp := _with("checkpoint", {"verdict": "block", "reasons": ["too risky"]})
	inp2 := object.union(inp, {"scan": object.union(inp.scan, {"findings_summary": {"fixable": {"critical": 2}}})})
	d := _decide(inp2)
	_denied_by(d, {"checkpoint_blocked", "fixable_findings"})
	d.reasons == sort(d.reasons)
}

test_image_string_without_registry_or_tag if {
	rest := object.remove(_input, ["image"])
	inp := object.union(rest, {"image": {"repository": "payments/api", "digest": _digest}})
	_decide(inp).image == concat("", ["payments/api@", _digest])
	inp2 := object.union(rest, {"image": {"registry": "r.example", "repository": "r.example/payments/api", "tag": "1"}})
	_decide(inp2).image == "r.example/payments/api:1"
}

# --- release ---------------------------------------------------------------

_release_input(patch) := {
	"release": object.union({"owner": "team-payments", "justification": "CVE-2024-0001 is not reachable: the parser is unused", "expires": "2026-12-10T00:00:00Z"}, patch),
	"image": _input.image,
	"now": "2026-12-01T00:00:00Z",
}

_release(inp) := r if {
	r := registry.release with input as inp
		with data.propolis.registry.release_min_justification as 20
		with data.propolis.registry.release_max_days as 30
}

test_release_allowed_with_owner_justification_and_expiry if {
	r := _release(_release_input({}))
	r.allow == true
	r.reasons == []
}

test_release_needs_owner if {
	r := _release(_release_input({"owner": "  "}))
	_rule_names(r.reasons) == {"release_owner_missing"}
}

test_release_needs_a_real_justification if {
	r := _release(_release_input({"justification": "because"}))
	_rule_names(r.reasons) == {"release_justification_too_short"}
}

test_release_expiry_rules if {
	_rule_names(_release(_release_input({"expires": ""})).reasons) == {"release_expiry_missing"}
	_rule_names(_release(_release_input({"expires": "next week"})).reasons) == {"release_expiry_invalid"}
	_rule_names(_release(_release_input({"expires": "2026-11-30T00:00:00Z"})).reasons) == {"release_expiry_past"}
	_rule_names(_release(_release_input({"expires": "2027-02-01T00:00:00Z"})).reasons) == {"release_expiry_too_far"}
}

test_release_without_limit_needs_no_expiry if {
	r := registry.release with input as _release_input({"expires": ""}) with data.propolis.registry.release_max_days as 0
	r.allow == true
}

test_missing_blobs_quarantine_with_their_digests if {
	inp := object.union(_with("scan", {"error": "the manifest references blobs the registry does not have"}), {"registry": {"missing_blobs": ["sha256:aa", 7]}})
	d := _decide(inp)
	_denied_by(d, {"blobs_missing", "image_unverifiable"})
	contains(d.reasons[0], "1 blob(s) the registry does not have (sha256:aa)")
}

test_no_missing_blobs_is_fine if {
	_decide(object.union(_input, {"registry": {"missing_blobs": []}})).allow == true
}
