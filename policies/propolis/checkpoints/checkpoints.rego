# Lifecycle checkpoints: turns a risk score (0..100, see propolis.risk) into
# a verdict at CI, registry, deploy or runtime.
#
# Input:
#   {"checkpoint": "ci" | "registry" | "deploy" | "runtime",
#    "score": 42.5,
#    "namespace": "payments",            (optional)
#    "team": "team-payments",            (optional)
#    "image": "registry.example.com/payments/api:1.4.2@sha256:..."
#             or {"registry", "repository", "tag", "digest"},
#    "now": "2025-01-31T12:00:00Z"}      (RFC 3339; wall clock if absent)
#
# A score above the checkpoint's `block` bar blocks, above its `warn` bar
# warns. A matching, unexpired exception turns a block into a warning.
#
# Entry point: data.propolis.checkpoints.decision
#   {"allow": bool, "verdict": "allow" | "warn" | "block", "reasons": [...],
#    "checkpoint": string, "score": number|null,
#    "bar": {"warn": number, "block": number}, "exception": object|null}
#
# Tunables (data.propolis.checkpoints):
#   bars                 {"<checkpoint>": {"warn": n, "block": n}}
#   team_overrides       {"<team>": {"<checkpoint>": {"warn"?, "block"?}}}
#   namespace_overrides  {"<namespace>": {"<checkpoint>": {...}}}
#                        (namespace overrides win over team overrides)
#   exceptions           [{"digest": "sha256:..." and/or
#                          "repository": "registry.example.com/team/app",
#                          "owner": "...", "expires": "<RFC 3339>",
#                          "reason": "...",
#                          "checkpoints": [...], "namespaces": [...]}]
#                        (checkpoints/namespaces optional: absent = all)
package propolis.checkpoints

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

_default_bars := {
	"ci": {"warn": 40, "block": 75},
	"registry": {"warn": 40, "block": 70},
	"deploy": {"warn": 30, "block": 60},
	"runtime": {"warn": 50, "block": 85},
}

default _bars := {}

_bars := v if {
	v := data.propolis.checkpoints.bars
	is_object(v)
}

default _team_overrides := {}

_team_overrides := v if {
	v := data.propolis.checkpoints.team_overrides
	is_object(v)
}

default _namespace_overrides := {}

_namespace_overrides := v if {
	v := data.propolis.checkpoints.namespace_overrides
	is_object(v)
}

default _exceptions := []

_exceptions := v if {
	v := data.propolis.checkpoints.exceptions
	is_array(v)
}

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

checkpoint := lib.lower_string(object.get(_input, "checkpoint", ""))

_namespace := lib.get_string(_input, "namespace")

_team := lib.get_string(_input, "team")

_score := object.get(_input, "score", null)

_now_ns := lib.now_ns(object.get(_input, "now", null))

_raw_image := object.get(_input, "image", null)

# Image as {"repository" (registry/path, normalised), "digest", "display"}.
_image := {"repository": ref.repository, "digest": ref.digest, "display": _raw_image} if {
	ref := lib.parse_image(_raw_image)
} else := {"repository": repository, "digest": digest, "display": display} if {
	is_object(_raw_image)
	registry := lib.get_string(_raw_image, "registry")
	path := lib.get_string(_raw_image, "repository")
	full := _qualify(registry, path)
	repository := _normalize_repository(full)
	digest := lib.get_string(_raw_image, "digest")
	display := concat("", [full, _prefixed(":", lib.get_string(_raw_image, "tag")), _prefixed("@", digest)])
} else := {"repository": "", "digest": "", "display": "<unknown image>"}

_qualify(registry, path) := concat("/", [registry, path]) if {
	registry != ""
	not startswith(path, concat("", [registry, "/"]))
} else := path

_prefixed(_, "") := ""

_prefixed(sep, s) := concat("", [sep, s]) if s != ""

# Canonical repository name ("nginx" -> "docker.io/library/nginx").
_normalize_repository(r) := lib.parse_image(r).repository if lib.parse_image(r)

else := lower(r) if is_string(r)

else := ""

# ---------------------------------------------------------------------------
# Bars
# ---------------------------------------------------------------------------

_override(overrides, key) := lib.as_object(object.get(lib.as_object(object.get(overrides, key, {})), checkpoint, {}))

_configured_bar := object.union(
	object.union(
		object.union(_default_bars[checkpoint], lib.as_object(object.get(_bars, checkpoint, {}))),
		_override(_team_overrides, _team),
	),
	_override(_namespace_overrides, _namespace),
)

# Effective {"warn", "block"} bar of the checkpoint; non-numbers fall back
# to the built-in defaults.
bar := {
	"warn": lib.get_number(_configured_bar, "warn", _default_bars[checkpoint].warn),
	"block": lib.get_number(_configured_bar, "block", _default_bars[checkpoint].block),
}

# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------

_field_matches(e, "digest") if {
	d := lib.get_string(e, "digest")
	d != ""
	d == _image.digest
}

_field_matches(e, "repository") if {
	r := lib.get_string(e, "repository")
	r != ""
	_normalize_repository(r) == _image.repository
}

_scoped(e, key, _) if object.get(e, key, null) == null

_scoped(e, key, value) if value in lib.get_array(e, key)

# An exception matches when it names a digest and/or a repository, every
# field it names matches the image, and its scope includes the request.
_matches(e) if {
	is_object(e)
	fields := [f | some f in ["digest", "repository"]; lib.get_string(e, f) != ""]
	count(fields) > 0
	every f in fields {
		_field_matches(e, f)
	}
	_scoped(e, "checkpoints", checkpoint)
	_scoped(e, "namespaces", _namespace)
}

_target(e) := concat(" and ", [sprintf("%s %s", [f, lib.get_string(e, f)]) |
	some f in ["digest", "repository"]
	lib.get_string(e, f) != ""
])

_describe(e) := sprintf("exception for %s owned by %s (%s)", [
	_target(e),
	_or_unknown(lib.get_string(e, "owner")),
	_or_unknown(lib.get_string(e, "reason")),
])

_or_unknown("") := "<unknown>"

_or_unknown(s) := s if s != ""

_active(e) if lib.rfc3339_ns(object.get(e, "expires", null)) > _now_ns

# The unexpired exceptions that match this request.
active_exceptions := [e | some e in _exceptions; _matches(e); _active(e)]

# The exception applied to this request: the one that expires last (the
# first listed among equals).
exception := latest[0] if {
	count(active_exceptions) > 0
	last := max([lib.rfc3339_ns(x.expires) | some x in active_exceptions])
	latest := [e | some e in active_exceptions; lib.rfc3339_ns(e.expires) == last]
} else := null

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

_over_block if {
	is_number(_score)
	_default_bars[checkpoint]
	_score > bar.block
}

deny contains msg if {
	not _default_bars[checkpoint]
	msg := sprintf(
		"unknown_checkpoint: checkpoint '%v' is not one of %v; the caller must name the lifecycle stage",
		[object.get(_input, "checkpoint", null), sort(object.keys(_default_bars))],
	)
}

deny contains msg if {
	not is_number(_score)
	msg := sprintf(
		"score_missing: no numeric risk score for image %s (got %v); it is blocked until it has been scored",
		[_image.display, _score],
	)
}

# score_above_block_bar
deny contains msg if {
	_over_block
	exception == null
	msg := sprintf(
		"score_above_block_bar: image %s has risk score %v, above the %s block bar %v%s; lower the score or request a time-boxed exception",
		[_image.display, _score, checkpoint, bar.block, _bar_scope],
	)
}

# exception_expired: explains a block that an exception no longer covers.
deny contains msg if {
	_over_block
	exception == null
	some e in _exceptions
	_matches(e)
	expires := object.get(e, "expires", null)
	lib.valid_rfc3339(expires)
	msg := sprintf("exception_expired: the %s expired at %s", [_describe(e), expires])
}

deny contains msg if {
	_over_block
	exception == null
	some e in _exceptions
	_matches(e)
	not lib.valid_rfc3339(object.get(e, "expires", null))
	msg := sprintf(
		"exception_invalid: the %s has no valid RFC 3339 expires (got %v) and is ignored",
		[_describe(e), object.get(e, "expires", null)],
	)
}

# exception_applied
warn contains msg if {
	_over_block
	exception != null
	msg := sprintf(
		"exception_applied: image %s has risk score %v, above the %s block bar %v, allowed by the %s until %s",
		[_image.display, _score, checkpoint, bar.block, _describe(exception), exception.expires],
	)
}

# score_above_warn_bar
warn contains msg if {
	is_number(_score)
	_default_bars[checkpoint]
	_score > bar.warn
	_score <= bar.block
	msg := sprintf(
		"score_above_warn_bar: image %s has risk score %v, above the %s warn bar %v%s",
		[_image.display, _score, checkpoint, bar.warn, _bar_scope],
	)
}

_bar_scope := sprintf(" (namespace %s override)", [_namespace]) if {
	count(_override(_namespace_overrides, _namespace)) > 0
} else := sprintf(" (team %s override)", [_team]) if {
	count(_override(_team_overrides, _team)) > 0
} else := ""

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

_bar_or_null := bar if _default_bars[checkpoint]

else := null

verdict := "block" if count(deny) > 0

else := "warn" if count(warn) > 0

else := "allow"

decision := {
	"allow": verdict != "block",
	"verdict": verdict,
	"reasons": sort(deny | warn),
	"checkpoint": checkpoint,
	"score": _score,
	"bar": _bar_or_null,
	"exception": exception,
}
