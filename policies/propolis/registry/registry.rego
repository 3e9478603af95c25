# Registry gate: decides whether an image pushed to a registry may be
# served, or must be quarantined.
#
# Input:
#   {"image": {
#     "registry": "registry.example.com",        (optional, for messages)
#     "repository": "payments/api",
#     "tag": "1.4.2",
#     "digest": "sha256:...",
#     "signed": true,
#     "risk": {"score": 42.5},                   (0..100, see propolis.risk)
#     "findings_summary": {
#       "critical": 1, "high": 3, "medium": 10, "low": 4,
#       "fixable": {"critical": 1, "high": 2}   (findings with a fix; the
#     }                                          form "critical_fixable": 1
#   }}                                           is accepted as well)
#
# Entry point: data.propolis.registry.decision
#   {"allow": bool, "reasons": [...], "quarantine": bool, "image": string}
#
# Tunables (data.propolis.registry):
#   require_signature         deny unsigned images (default true)
#   max_score                 highest acceptable risk score (default 70)
#   block_fixable_severities  severities whose fixable findings are denied
#                             (default ["critical"])
package propolis.registry

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

default _require_signature := true

_require_signature := v if {
	v := data.propolis.registry.require_signature
	is_boolean(v)
}

default _max_score := 70

_max_score := v if {
	v := data.propolis.registry.max_score
	is_number(v)
}

default _block_fixable_severities := ["critical"]

_block_fixable_severities := v if {
	v := data.propolis.registry.block_fixable_severities
	is_array(v)
}

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_image := lib.get_object(_input, "image")

_repository := concat("/", [registry, repository]) if {
	registry := lib.get_string(_image, "registry")
	repository := lib.get_string(_image, "repository")
	registry != ""
	not startswith(repository, concat("", [registry, "/"]))
} else := r if {
	r := lib.get_string(_image, "repository")
	r != ""
} else := "<unknown repository>"

_tag_part := concat("", [":", t]) if {
	t := lib.get_string(_image, "tag")
	t != ""
} else := ""

_digest_part := concat("", ["@", d]) if {
	d := lib.get_string(_image, "digest")
	d != ""
} else := ""

# "registry.example.com/payments/api:1.4.2@sha256:..." for messages.
image := concat("", [_repository, _tag_part, _digest_part])

_score := object.get(_image, ["risk", "score"], null)

_summary := lib.get_object(_image, "findings_summary")

# Fixable findings of a severity: "fixable": {"<sev>": n} or "<sev>_fixable": n.
_fixable_count(severity) := max([
	lib.get_number(_summary, ["fixable", severity], 0),
	lib.get_number(_summary, concat("_", [severity, "fixable"]), 0),
])

# ---------------------------------------------------------------------------
# Deny rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not is_object(object.get(_input, "image", null))
	msg := "image_missing: input.image is missing or not an object; the registry gate has nothing to verify"
}

# signature_required
deny contains msg if {
	is_object(object.get(_input, "image", null))
	_require_signature
	object.get(_image, "signed", false) != true
	msg := sprintf(
		"signature_required: image %s is not signed and data.propolis.registry.require_signature is true; sign the image and push it again",
		[image],
	)
}

# risk_score_missing
deny contains msg if {
	is_object(object.get(_input, "image", null))
	not is_number(_score)
	msg := sprintf(
		"risk_score_missing: image %s has no numeric risk.score (got %v); it is quarantined until it has been scanned and scored",
		[image, _score],
	)
}

# risk_score_too_high
deny contains msg if {
	is_number(_score)
	_score > _max_score
	msg := sprintf(
		"risk_score_too_high: image %s has risk score %v, above data.propolis.registry.max_score %v; fix the top risk factors and push again",
		[image, _score, _max_score],
	)
}

# fixable_findings
deny contains msg if {
	some severity in _block_fixable_severities
	is_string(severity)
	n := _fixable_count(lower(severity))
	n > 0
	msg := sprintf(
		"fixable_findings: image %s has %v %s finding(s) with a fix available; upgrade the affected packages and push again",
		[image, n, lower(severity)],
	)
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"quarantine": count(deny) > 0,
	"image": image,
}
