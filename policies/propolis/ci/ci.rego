# CI gate: decides whether a build may continue, from the summary of the
# image scan it produced.
#
# Input:
#   {"findings": [{"id": "CVE-2024-3094", "severity": "critical",
#                  "fix_available": true, "package": "xz-utils"}, ...],
#    "now": "2025-01-31T12:00:00Z"}      (RFC 3339; wall clock if absent)
#
# A critical finding with a fix available blocks the build (high too when
# data says block_high), unless an unexpired accepted advisory covers it.
#
# Entry point: data.propolis.ci.decision
#   {"allow": bool, "reasons": [...], "warnings": [...],
#    "exit_code": 0 | 1, "blocking_findings": [ids]}
#
# Tunables (data.propolis.ci):
#   block_high           also block fixable high findings (default false)
#   accepted_advisories  [{"id": "CVE-...", "package": "..." (optional),
#                          "expires": "<RFC 3339>", "owner": "...",
#                          "reason": "..."}]; expired entries do not apply
package propolis.ci

import rego.v1

import data.propolis.lib

default _block_high := false

_block_high := v if {
	v := data.propolis.ci.block_high
	is_boolean(v)
}

default _accepted := []

_accepted := v if {
	v := data.propolis.ci.accepted_advisories
	is_array(v)
}

_input := input if is_object(input)

else := {}

_now_ns := lib.now_ns(object.get(_input, "now", null))

_blocking_severities := {"critical", "high"} if _block_high

else := {"critical"}

_findings := [f | some f in lib.get_array(_input, "findings"); is_object(f)]

_severity(f) := lib.lower_string(object.get(f, "severity", ""))

_id(f) := upper(lib.get_string(f, "id"))

_package(f) := p if {
	p := lib.get_string(f, "package")
	p != ""
} else := "<unknown package>"

_fixable(f) if object.get(f, "fix_available", false) == true

_describe(f) := sprintf("%s (%s) in package %s", [_or_unknown(lib.get_string(f, "id")), _severity(f), _package(f)])

_or_unknown("") := "<no id>"

_or_unknown(s) := s if s != ""

# ---------------------------------------------------------------------------
# Accepted advisories
# ---------------------------------------------------------------------------

_covers(a, f) if {
	is_object(a)
	id := upper(lib.get_string(a, "id"))
	id != ""
	id == _id(f)
	_package_matches(a, f)
}

_package_matches(a, _) if lib.get_string(a, "package") == ""

_package_matches(a, f) if lib.get_string(a, "package") == lib.get_string(f, "package")

_active(a) if lib.rfc3339_ns(object.get(a, "expires", null)) > _now_ns

_accepted_for(f) := [a | some a in _accepted; _covers(a, f); _active(a)]

_accepted_text(a) := sprintf("accepted by %s until %s (%s)", [
	_or_none(lib.get_string(a, "owner")),
	lib.get_string(a, "expires"),
	_or_none(lib.get_string(a, "reason")),
])

_or_none("") := "<unknown>"

_or_none(s) := s if s != ""

# Findings that would block the build if no advisory accepted them.
_candidates := [f | some f in _findings; _fixable(f); _severity(f) in _blocking_severities]

# Findings that block the build.
blocking_findings := sort({_or_unknown(lib.get_string(f, "id")) | some f in _candidates; count(_accepted_for(f)) == 0})

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not is_array(object.get(_input, "findings", null))
	msg := "findings_missing: input.findings is missing or not a list; the scan report is incomplete, so the build is blocked"
}

# fixable_finding
deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	msg := sprintf(
		"fixable_finding: %s has a fix available; upgrade the package, or add a time-boxed entry to data.propolis.ci.accepted_advisories",
		[_describe(f)],
	)
}

# accepted_advisory_expired: explains why an accepted advisory stopped applying.
deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	some a in _accepted
	_covers(a, f)
	lib.valid_rfc3339(object.get(a, "expires", null))
	msg := sprintf("accepted_advisory_expired: the acceptance of %s expired at %s (owner %s)", [
		_describe(f), a.expires, _or_none(lib.get_string(a, "owner")),
	])
}

deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	some a in _accepted
	_covers(a, f)
	not lib.valid_rfc3339(object.get(a, "expires", null))
	msg := sprintf("accepted_advisory_invalid: the acceptance of %s has no valid RFC 3339 expires (got %v) and is ignored", [
		_describe(f), object.get(a, "expires", null),
	])
}

# accepted_advisory: a blocking finding let through by an advisory.
warn contains msg if {
	some f in _candidates
	some a in _accepted_for(f)
	msg := sprintf("accepted_advisory: %s has a fix available but is %s", [_describe(f), _accepted_text(a)])
}

# fixable_high_finding: reported, not blocking, while block_high is false.
warn contains msg if {
	not _block_high
	some f in _findings
	_fixable(f)
	_severity(f) == "high"
	msg := sprintf(
		"fixable_high_finding: %s has a fix available; not blocking (data.propolis.ci.block_high is false)",
		[_describe(f)],
	)
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

_exit_code := 0 if count(deny) == 0

else := 1

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"exit_code": _exit_code,
	"blocking_findings": blocking_findings,
}
