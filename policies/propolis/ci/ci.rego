# CI gate: decides whether a build may continue, from the findings of the
# image scan it produced (`propolis scan`).
#
# Input:
#   {"image": {"reference": "registry.example/app:1.2", "digest": "sha256:..."},
#    "findings": [{"id": "CVE-2024-3094", "aliases": ["GHSA-..."],
#                  "severity": "critical", "cvss_score": 10.0,
#                  "fixed_version": "5.6.2", "state": "fixed",
#                  "package": {"name": "xz-utils", "version": "5.6.0",
#                              "ecosystem": "deb", "purl": "pkg:deb/..."}}, ...],
#    "summary": {"critical": 1, "high": 0, ..., "total": 1, "fixable": 1},
#    "now": "2025-01-31T12:00:00Z"}      (RFC 3339; wall clock if absent)
#
# The older finding shape {"id", "severity", "fix_available": bool,
# "package": "name"} is still accepted.
#
# A finding is fixable when fix_available is true, or when it has a
# fixed_version and its state is "fixed" (or absent). A fixable critical
# finding blocks the build (high too when data says block_high, unrated
# ones when data says block_unknown), unless an unexpired accepted advisory
# covers it. Unfixed findings never block: they are reported as warnings.
#
# Entry point: data.propolis.ci.decision
#   {"allow": bool, "reasons": [...], "warnings": [...],
#    "exit_code": 0 | 1, "blocking_findings": [ids]}
#
# Tunables (data.propolis.ci):
#   block_high           also block fixable high findings (default false)
#   block_unknown        also block fixable findings whose advisory has no
#                        severity rating ("unknown", default false)
#   accepted             [{"id": "CVE-..." (or any alias of it),
#                          "package": "..." (optional: name or purl),
#                          "expires": "2027-01-31" or RFC 3339,
#                          "owner": "...", "reason": "..."}]
#   accepted_advisories  same entries (the older key; both lists apply)
# A date-only expires means the start of that day (UTC): from then on the
# entry no longer applies. Expired entries do not apply.
package propolis.ci

import rego.v1

import data.propolis.lib

default _block_high := false

_block_high := v if {
	v := data.propolis.ci.block_high
	is_boolean(v)
}

default _block_unknown := false

_block_unknown := v if {
	v := data.propolis.ci.block_unknown
	is_boolean(v)
}

default _accepted_advisories := []

_accepted_advisories := v if {
	v := data.propolis.ci.accepted_advisories
	is_array(v)
}

default _accepted_entries := []

_accepted_entries := v if {
	v := data.propolis.ci.accepted
	is_array(v)
}

_accepted := array.concat(_accepted_advisories, _accepted_entries)

_input := input if is_object(input)

else := {}

_now_ns := lib.now_ns(object.get(_input, "now", null))

_known_severities := {"critical", "high", "medium", "low", "negligible"}

_blocks_severity(s) if s == "critical"

_blocks_severity(s) if {
	s == "high"
	_block_high
}

_blocks_severity(s) if {
	s == "unknown"
	_block_unknown
}

_findings := [f | some f in lib.get_array(_input, "findings"); is_object(f)]

_severity(f) := lib.lower_string(object.get(f, "severity", ""))

# The severity a finding is judged by: anything unrated counts as "unknown".
_rating(f) := s if {
	s := _severity(f)
	s in _known_severities
} else := "unknown"

# Every id the finding is known by (its id and its aliases), upper-cased.
_ids(f) := {upper(x) | some x in array.concat([object.get(f, "id", "")], lib.get_array(f, "aliases")); is_string(x); x != ""}

_package_object(f) := lib.get_object(f, "package")

_package(f) := p if {
	p := lib.get_string(f, "package")
	p != ""
} else := p if {
	p := lib.get_string(_package_object(f), "name")
	p != ""
} else := "<unknown package>"

_package_version(f) := lib.get_string(_package_object(f), "version")

_package_label(f) := _package(f) if _package_version(f) == ""

else := sprintf("%s %s", [_package(f), _package_version(f)])

_fixed_version(f) := lib.get_string(f, "fixed_version")

_fixable(f) if object.get(f, "fix_available", false) == true

_fixable(f) if {
	_fixed_version(f) != ""
	lib.get_string(f, "state") in {"", "fixed"}
}

_aliases_text(f) := "" if count(_alias_list(f)) == 0

else := sprintf(" [aliases: %s]", [concat(", ", _alias_list(f))])

_alias_list(f) := [a | some a in lib.get_array(f, "aliases"); is_string(a); a != ""]

_describe(f) := sprintf("%s (%s)%s in package %s", [
	_or_unknown(lib.get_string(f, "id")), _severity(f), _aliases_text(f), _package_label(f),
])

_or_unknown("") := "<no id>"

_or_unknown(s) := s if s != ""

_remedy(f) := "upgrade the package, or add a time-boxed entry to data.propolis.ci.accepted_advisories" if {
	_fixed_version(f) == ""
}

_remedy(f) := msg if {
	_fixed_version(f) != ""
	msg := sprintf("upgrade %s to %s or later, or add a time-boxed entry to data.propolis.ci.accepted", [
		_package(f), _fixed_version(f),
	])
}

# ---------------------------------------------------------------------------
# Accepted advisories
# ---------------------------------------------------------------------------

_covers(a, f) if {
	is_object(a)
	id := upper(lib.get_string(a, "id"))
	id != ""
	id in _ids(f)
	_package_matches(a, f)
}

_package_matches(a, _) if lib.get_string(a, "package") == ""

_package_matches(a, f) if lib.get_string(a, "package") == lib.get_string(f, "package")

_package_matches(a, f) if {
	want := lib.get_string(a, "package")
	want != ""
	want in {_package(f), lib.get_string(_package_object(f), "purl")}
}

_date_pattern := `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`

# expires as nanoseconds: an RFC 3339 instant, or a date (its first instant, UTC).
_expires_ns(a) := lib.rfc3339_ns(e) if {
	e := object.get(a, "expires", null)
	lib.valid_rfc3339(e)
}

_expires_ns(a) := lib.rfc3339_ns(concat("", [e, "T00:00:00Z"])) if {
	e := object.get(a, "expires", null)
	is_string(e)
	regex.match(_date_pattern, e)
}

_valid_expiry(a) if is_number(_expires_ns(a))

_active(a) if _expires_ns(a) > _now_ns

_accepted_for(f) := [a | some a in _accepted; _covers(a, f); _active(a)]

_accepted_text(a) := sprintf("accepted by %s until %s (%s)", [
	_or_none(lib.get_string(a, "owner")),
	lib.get_string(a, "expires"),
	_or_none(lib.get_string(a, "reason")),
])

_or_none("") := "<unknown>"

_or_none(s) := s if s != ""

# Findings that would block the build if no advisory accepted them.
_candidates := [f | some f in _findings; _fixable(f); _blocks_severity(_rating(f))]

# Findings that block the build.
blocking_findings := sort({_or_unknown(lib.get_string(f, "id")) | some f in _candidates; count(_accepted_for(f)) == 0})

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not is_array(object.get(_input, "findings", null))
	msg := "findings_missing: input.findings is missing or not a list; the scan report is incomplete, so the build is blocked"
}

# fixable_finding: names the advisory, the package and the version to upgrade to.
deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	msg := sprintf("fixable_finding: %s has a fix available; %s", [_describe(f), _remedy(f)])
}

# accepted_advisory_expired: explains why an accepted advisory stopped applying.
deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	some a in _accepted
	_covers(a, f)
	_valid_expiry(a)
	msg := sprintf("accepted_advisory_expired: the acceptance of %s expired at %s (owner %s)", [
		_describe(f), a.expires, _or_none(lib.get_string(a, "owner")),
	])
}

deny contains msg if {
	some f in _candidates
	count(_accepted_for(f)) == 0
	some a in _accepted
	_covers(a, f)
	not _valid_expiry(a)
	msg := sprintf("accepted_advisory_invalid: the acceptance of %s has no valid expires (RFC 3339 or YYYY-MM-DD, years 1678 to 2261; got %v) and is ignored", [
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

# unfixed_finding: a finding of a blocking severity with no fix yet does not
# block (nothing can be upgraded), but whoever reads the CI log should see it.
warn contains msg if {
	some f in _findings
	not _fixable(f)
	_blocks_severity(_rating(f))
	lib.get_string(f, "state") != ""
	msg := sprintf("unfixed_finding: %s has no fix available (state %s); not blocking", [
		_describe(f), lib.get_string(f, "state"),
	])
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
