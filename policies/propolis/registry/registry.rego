# Registry gate: decides whether an image pushed to a registry may be
# served, or must be quarantined. The gate scans the pushed manifest, has
# the risk service judge its score at the `registry` checkpoint
# (propolis.checkpoints), and asks this policy for the final verdict.
#
# Input:
#   {"image": {
#      "registry": "registry.example.com",        (optional, for messages)
#      "repository": "payments/api",
#      "tag": "1.4.2",                            (optional)
#      "digest": "sha256:...",
#      "signed": true},                           (optional; see require_signature)
#    "registry": {"missing_blobs": ["sha256:..."]},   (blobs the manifest names
#                                                      that the registry lacks)
#    "scan": {
#      "error": "",                               (why the image could not be scanned)
#      "partial": false, "partial_reasons": [],
#      "findings_summary": {"critical": 1, "high": 3,
#                           "fixable": {"critical": 1, "high": 2}}},
#    "checkpoint": {                              (the registry checkpoint decision)
#      "verdict": "allow" | "warn" | "block",
#      "reasons": [...], "score": 42.5,
#      "bar": {"warn": 40, "block": 70}}}
#
# Entry point: data.propolis.registry.decision
#   {"allow": bool, "quarantine": bool, "reasons": [...], "warnings": [...],
#    "score": number|null, "image": string}
#
# Tunables (data.propolis.registry):
#   require_signature         deny images whose signature was not verified
#                             (default false: the gate verifies none yet)
#   block_fixable_severities  severities whose fixable findings are denied
#                             whatever the score (default ["critical"])
#   block_partial_scans       deny images whose scan was partial (default false:
#                             a partial scan is a warning)
package propolis.registry

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

default _require_signature := false

_require_signature := v if {
	v := data.propolis.registry.require_signature
	is_boolean(v)
}

default _block_fixable_severities := ["critical"]

_block_fixable_severities := v if {
	v := data.propolis.registry.block_fixable_severities
	is_array(v)
}

default _block_partial := false

_block_partial := v if {
	v := data.propolis.registry.block_partial_scans
	is_boolean(v)
}

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_image := lib.get_object(_input, "image")

_has_image if is_object(object.get(_input, "image", null))

_scan := lib.get_object(_input, "scan")

_checkpoint := lib.get_object(_input, "checkpoint")

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

_score := object.get(_checkpoint, "score", null)

_verdict := object.get(_checkpoint, "verdict", null)

_scan_error := lib.get_string(_scan, "error")

_summary := lib.get_object(_scan, "findings_summary")

# The strings of an array joined for a message (anything else is left out).
_joined(arr) := concat("; ", [s | some s in arr; is_string(s)])

_fixable_count(severity) := lib.get_number(_summary, ["fixable", severity], 0)

# ---------------------------------------------------------------------------
# Deny rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not _has_image
	msg := "image_missing: input.image is missing or not an object; the registry gate has nothing to verify"
}

# blobs_missing: the manifest points at blobs the registry does not have; nobody can pull it.
deny contains msg if {
	_has_image
	missing := [d | some d in lib.get_array(lib.get_object(_input, "registry"), "missing_blobs"); is_string(d)]
	count(missing) > 0
	msg := sprintf("blobs_missing: image %s references %d blob(s) the registry does not have (%s); push the image again", [image, count(missing), concat(", ", missing)])
}

# image_unverifiable: the scan failed, so nothing is known about the image.
deny contains msg if {
	_has_image
	_scan_error != ""
	msg := sprintf("image_unverifiable: image %s could not be scanned (%s); it stays quarantined until a scan succeeds", [image, _scan_error])
}

# checkpoint_blocked: the risk score is above the registry checkpoint's block bar.
deny contains msg if {
	_has_image
	_scan_error == ""
	_verdict == "block"
	msg := sprintf("checkpoint_blocked: image %s was blocked at the registry checkpoint: %s", [image, _joined(lib.get_array(_checkpoint, "reasons"))])
}

# checkpoint_missing: no usable registry checkpoint verdict (never allow by omission).
deny contains msg if {
	_has_image
	_scan_error == ""
	not _verdict in {"allow", "warn", "block"}
	msg := sprintf("checkpoint_missing: image %s has no registry checkpoint verdict (got %v); it is quarantined until it has been scored", [image, _verdict])
}

# signature_required
deny contains msg if {
	_has_image
	_require_signature
	object.get(_image, "signed", false) != true
	msg := sprintf("signature_required: image %s has no verified signature and data.propolis.registry.require_signature is true; sign the image and push it again", [image])
}

# fixable_findings
deny contains msg if {
	_has_image
	some severity in _block_fixable_severities
	is_string(severity)
	n := _fixable_count(lower(severity))
	n > 0
	msg := sprintf("fixable_findings: image %s has %v %s finding(s) with a fix available; upgrade the affected packages and push again", [image, n, lower(severity)])
}

# partial_scan (deny only when configured; a warning otherwise)
deny contains msg if {
	_has_image
	_block_partial
	lib.get_bool(_scan, "partial", false)
	msg := sprintf("partial_scan: the scan of image %s was partial (%s) and data.propolis.registry.block_partial_scans is true", [image, _joined(lib.get_array(_scan, "partial_reasons"))])
}

# ---------------------------------------------------------------------------
# Warnings
# ---------------------------------------------------------------------------

warn contains msg if {
	_verdict == "warn"
	msg := sprintf("checkpoint_warning: image %s passed the registry checkpoint with a warning: %s", [image, _joined(lib.get_array(_checkpoint, "reasons"))])
}

warn contains msg if {
	not _block_partial
	lib.get_bool(_scan, "partial", false)
	msg := sprintf("partial_scan: the scan of image %s was partial (%s); some packages may be missing from its verdict", [image, _joined(lib.get_array(_scan, "partial_reasons"))])
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

decision := {
	"allow": count(deny) == 0,
	"quarantine": count(deny) > 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"score": _score,
	"image": image,
}

# ---------------------------------------------------------------------------
# Release: may a quarantined image be restored?
#
# Input: {"release": {"owner": "...", "justification": "...",
#                     "expires": "<RFC 3339>" | ""},
#         "image": {...}, "quarantine": {"reasons": [...], "score": n},
#         "now": "<RFC 3339>"}
# Entry point: data.propolis.registry.release
#   {"allow": bool, "reasons": [...]}
# Tunables: release_min_justification (characters, default 20),
#           release_max_days (longest release, default 30; 0 = no limit,
#           and then an expiry may be omitted).
# ---------------------------------------------------------------------------

default _release_min_justification := 20

_release_min_justification := v if {
	v := data.propolis.registry.release_min_justification
	is_number(v)
}

default _release_max_days := 30

_release_max_days := v if {
	v := data.propolis.registry.release_max_days
	is_number(v)
}

_release := lib.get_object(_input, "release")

_release_expires := lib.get_string(_release, "expires")

_release_now := lib.now_ns(lib.get_string(_input, "now"))

release_deny contains "release_owner_missing: a release needs an owner accountable for it" if {
	trim_space(lib.get_string(_release, "owner")) == ""
}

release_deny contains msg if {
	n := count(trim_space(lib.get_string(_release, "justification")))
	n < _release_min_justification
	msg := sprintf("release_justification_too_short: the justification has %d characters, at least %d are required", [n, _release_min_justification])
}

release_deny contains msg if {
	_release_max_days > 0
	_release_expires == ""
	msg := sprintf("release_expiry_missing: a release must expire within %v days", [_release_max_days])
}

release_deny contains msg if {
	_release_expires != ""
	not lib.valid_rfc3339(_release_expires)
	msg := sprintf("release_expiry_invalid: %q is not an RFC 3339 time", [_release_expires])
}

release_deny contains msg if {
	lib.valid_rfc3339(_release_expires)
	lib.rfc3339_ns(_release_expires) <= _release_now
	msg := sprintf("release_expiry_past: %s is not in the future", [_release_expires])
}

release_deny contains msg if {
	_release_max_days > 0
	lib.valid_rfc3339(_release_expires)
	lib.rfc3339_ns(_release_expires) > _release_now + ((_release_max_days * 24) * 3600) * 1000000000
	msg := sprintf("release_expiry_too_far: %s is more than %v days away", [_release_expires, _release_max_days])
}

release := {"allow": count(release_deny) == 0, "reasons": sort(release_deny)}
