# Image risk at the deploy checkpoint, enforcement modes, failure policies
# and exemption expiry for Kubernetes admission (package propolis.admission;
# admission.rego holds the pod-spec rules and the decision object).
#
# Facts (supplied by the admission service, never computed by a scan here):
#   input.risk.images  {"<image as written in the pod spec>":
#                        {"score": n, "digest": "sha256:..."}   the latest
#                          score of the image's digest (risk KV bucket)
#                        | {"unknown": true}      no score for the image
#                          (no digest, or the digest was never scored)
#                        | {"unavailable": true}  the score could not be
#                          read within the webhook's time budget
#                      + "attested": bool when the registry gate's state
#                        says whether the digest was allowed and attested}
#   input.now          RFC 3339; wall clock if absent (exemption expiry and
#                      checkpoint exceptions).
# Without input.risk no risk rule fires (e.g. `propolis policy eval` of a
# bare AdmissionReview request).
#
# Rules (container level, so exemptions by image apply):
#   image_risk_blocked    deny: the score is above the "deploy" block bar of
#                         data.propolis.checkpoints (bars.deploy, then
#                         namespace_overrides[ns].deploy).
#   image_risk_high       warn: above the deploy warn bar.
#   image_risk_unknown    no score: effect from unknown_images.
#   image_risk_unavailable the score could not be read in time: effect from
#                         failure_policy.risk ("open" warns, "closed" denies).
#   image_not_attested    deny, when require_attestation is true and the
#                         registry gate did not attest the digest.
#
# Tunables (data.propolis.admission):
#   unknown_images        "allow" | "warn" (default) | "deny"
#   require_attestation   false (default) | true
#   modes                 {"default": mode, "namespaces": {ns: mode}}, mode
#                         "enforce" (default), "warn" (denials become
#                         warnings, the request is allowed) or "audit"
#                         (allowed, nothing returned: only logged).
#                         admission_config_invalid and malformed_request
#                         deny in every mode.
#   failure_policy        {"risk": "open" (default) | "closed",
#                          "evaluation": "open" | "closed" (default)}:
#                         "risk" applies when image scores cannot be read in
#                         time (image_risk_unavailable); "evaluation" is read
#                         by the admission service itself and applies when
#                         the decision cannot be made within the webhook's
#                         time budget (open: allowed with a warning; closed:
#                         denied).
#   exemptions[*].owner, .reason, .expires (RFC 3339), .id: an exemption
#                         whose expires is past (or not a valid RFC 3339
#                         time) no longer applies.
package propolis.admission

import rego.v1

import data.propolis.lib

_risk_rule_ids := {"image_risk_blocked", "image_risk_high", "image_risk_unknown", "image_risk_unavailable", "image_not_attested"}

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

_risk_tunables := {
	"unknown_images": [v | v := data.propolis.admission.unknown_images],
	"require_attestation": [v | v := data.propolis.admission.require_attestation],
	"modes": [v | v := data.propolis.admission.modes],
	"failure_policy": [v | v := data.propolis.admission.failure_policy],
}

_unknown_image_effects := {"allow", "warn", "deny"}

default _unknown_images := "warn"

_unknown_images := v if {
	some v in _risk_tunables.unknown_images
	v != null
}

_require_attestation if true in _risk_tunables.require_attestation

_mode_names := {"enforce", "warn", "audit"}

_modes := v if {
	some v in _risk_tunables.modes
	is_object(v)
} else := {}

_failure_policy_setting := v if {
	some v in _risk_tunables.failure_policy
	is_object(v)
} else := {}

_failure_policy_names := {"open", "closed"}

_failure_policy_defaults := {"risk": "open", "evaluation": "closed"}

# The failure policy of each rule group; a value that is neither "open" nor
# "closed" counts as "closed" (and is reported by admission_config_invalid).
effective_failure_policy := {group: p |
	some group, fallback in _failure_policy_defaults
	v := object.get(_failure_policy_setting, group, fallback)
	p := _closed_unless_valid(v)
}

_closed_unless_valid(v) := v if v in _failure_policy_names

else := "closed"

# ---------------------------------------------------------------------------
# Enforcement mode
# ---------------------------------------------------------------------------

_configured_mode := m if {
	namespaces := _modes.namespaces
	is_object(namespaces)
	m := namespaces[_namespace]
} else := m if {
	m := _modes.default
} else := "enforce"

# The namespace's enforcement mode; a misconfigured one enforces.
mode := _configured_mode if _configured_mode in _mode_names

else := "enforce"

# Violations that deny whatever the mode: the policy could not judge.
_unmodal_rules := {"admission_config_invalid", "malformed_request"}

_hard_denied if {
	some v in _active
	v.effect == "deny"
	v.rule in _unmodal_rules
}

# What the webhook answers: enforce returns the policy verdict; warn allows
# and turns denials into warnings; audit allows and returns nothing.
enforcement := {"mode": mode, "allowed": true, "warnings": []} if {
	mode == "audit"
	not _hard_denied
} else := {"mode": mode, "allowed": true, "warnings": array.concat(sort(deny), sort(warn))} if {
	mode == "warn"
	not _hard_denied
} else := {"mode": mode, "allowed": count(deny) == 0, "warnings": sort(warn)}

# ---------------------------------------------------------------------------
# Exemption expiry
# ---------------------------------------------------------------------------

_now_ns := lib.now_ns(object.get(_input, "now", null))

_unexpired(e) if object.get(e, "expires", null) == null

_unexpired(e) if {
	expires := e.expires
	expires != null
	lib.rfc3339_ns(expires) > _now_ns
}

# The exemptions that dropped a violation of this request: each one's "id",
# else "exemption-<index>" (its place among the object entries of
# data.propolis.admission.exemptions, as ListExemptions numbers them).
applied_exemptions := sort({_exemption_id(i, e) |
	not _config_broken
	some v in _found
	some i, e in _exemptions
	_exempts(e, v)
})

_exemption_id(_, e) := e.id if {
	is_string(e.id)
	e.id != ""
} else := sprintf("exemption-%d", [i]) if {
	some i, x in _exemptions
	x == e
}

# ---------------------------------------------------------------------------
# Risk facts
# ---------------------------------------------------------------------------

_risk_images := v if {
	v := object.get(_input, ["risk", "images"], {})
	is_object(v)
} else := {}

# The facts of a container's image, when the service supplied them.
_risk_of(c) := f if {
	is_string(c.image)
	f := _risk_images[c.image]
	is_object(f)
}

# The deploy checkpoint's bars (data.propolis.checkpoints: bars.deploy, then
# namespace_overrides[ns].deploy; the checkpoint's built-in defaults when
# absent). Time-boxed exceptions for a risky image are admission exemptions
# (rules ["image_risk_blocked"], images [...], owner, expires).
_builtin_deploy_bar := {"warn": 30, "block": 60}

_deploy_bar_layers := [
	_builtin_deploy_bar,
	lib.as_object(object.get(lib.as_object(data.propolis.checkpoints), ["bars", "deploy"], {})),
	lib.as_object(object.get(lib.as_object(data.propolis.checkpoints), ["namespace_overrides", _namespace, "deploy"], {})),
]

deploy_bar := {
	"warn": [n | some layer in _deploy_bar_layers; n := layer.warn; is_number(n)][_last_index("warn")],
	"block": [n | some layer in _deploy_bar_layers; n := layer.block; is_number(n)][_last_index("block")],
}

_last_index(key) := count([n | some layer in _deploy_bar_layers; n := layer[key]; is_number(n)]) - 1

# The deploy checkpoint's judgement of a scored image.
_deploy_verdict(f) := "block" if {
	f.score > deploy_bar.block
} else := "warn" if {
	f.score > deploy_bar.warn
} else := "allow" if {
	is_number(f.score)
}

_scored(c) := f if {
	f := _risk_of(c)
	is_number(f.score)
}

_found contains v if {
	"image_risk_blocked" in _on
	some c in _containers
	f := _scored(c)
	_deploy_verdict(f) == "block"
	v := _violation("image_risk_blocked", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) with risk score %v, above the deploy block bar %v",
		[_who(c), c.image, c.path, f.score, deploy_bar.block],
	))
}

_found contains v if {
	"image_risk_high" in _on
	some c in _containers
	f := _scored(c)
	_deploy_verdict(f) == "warn"
	v := _violation("image_risk_high", "policy", "warn", c, sprintf(
		"%s uses image '%s' (%s.image) with risk score %v, above the deploy warn bar %v (block bar %v)",
		[_who(c), c.image, c.path, f.score, deploy_bar.warn, deploy_bar.block],
	))
}

_found contains v if {
	"image_risk_unknown" in _on
	_unknown_images in {"warn", "deny"}
	some c in _containers
	f := _risk_of(c)
	f.unknown == true
	v := _violation("image_risk_unknown", "policy", _unknown_images, c, sprintf(
		"%s uses image '%s' (%s.image) that has no risk score (scan it, or pin it by a scanned digest)",
		[_who(c), c.image, c.path],
	))
}

_found contains v if {
	"image_risk_unavailable" in _on
	some c in _containers
	f := _risk_of(c)
	f.unavailable == true
	effect := {"open": "warn", "closed": "deny"}[effective_failure_policy.risk]
	v := _violation("image_risk_unavailable", "policy", effect, c, sprintf(
		"%s uses image '%s' (%s.image) whose risk score could not be read in time (failure_policy.risk: %s)",
		[_who(c), c.image, c.path, effective_failure_policy.risk],
	))
}

_found contains v if {
	"image_not_attested" in _on
	_require_attestation
	some c in _containers
	f := _risk_of(c)
	not f.attested == true
	v := _violation("image_not_attested", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) that the registry gate has not allowed and attested (require_attestation)",
		[_who(c), c.image, c.path],
	))
}

# ---------------------------------------------------------------------------
# Configuration problems
# ---------------------------------------------------------------------------

_config_problems contains sprintf("unknown_images is %v; expected \"allow\", \"warn\" or \"deny\"", [m]) if {
	m := _unknown_images
	not m in _unknown_image_effects
}

_config_problems contains sprintf("require_attestation is %v; expected true or false", [v]) if {
	some v in _risk_tunables.require_attestation
	v != null
	not is_boolean(v)
}

_config_problems contains "modes is not an object" if {
	some v in _risk_tunables.modes
	v != null
	not is_object(v)
}

_config_problems contains sprintf("modes.default is %v; expected one of %v", [m, sort(_mode_names)]) if {
	m := _modes.default
	not m in _mode_names
}

_config_problems contains sprintf("modes.namespaces[%v] is %v; expected one of %v", [ns, m, sort(_mode_names)]) if {
	namespaces := _modes.namespaces
	is_object(namespaces)
	some ns, m in namespaces
	not m in _mode_names
}

_config_problems contains "failure_policy is not an object" if {
	some v in _risk_tunables.failure_policy
	v != null
	not is_object(v)
}

_config_problems contains sprintf("failure_policy.%v is %v; expected \"open\" or \"closed\"", [group, p]) if {
	some group, p in _failure_policy_setting
	not p in _failure_policy_names
}

_config_problems contains sprintf("failure_policy names unknown rule groups %v", [sort(unknown)]) if {
	unknown := {g | some g, _ in _failure_policy_setting} - {g | some g, _ in _failure_policy_defaults}
	count(unknown) > 0
}

_config_problems contains sprintf("exemptions[%d].expires %v is not an RFC 3339 time", [i, e.expires]) if {
	some i, e in _exemptions
	e.expires != null
	not lib.valid_rfc3339(e.expires)
}
