# Compliance: judges one benchmark run (CIS-style) against the minimum
# ratio of passed scored checks configured for that benchmark.
#
# Input:
#   {"benchmark": "cis-kubernetes",
#    "results": [{"id": "1.2.1", "status": "pass" | "fail" | "warn" | "info",
#                 "scored": true}, ...]}
# Statuses are case-insensitive; "passed" counts as pass, "failed" and
# "error" as fail, "manual" as warn, "not_applicable"/"skip" as info. Any
# other status counts as a failure. A result without `scored` is scored.
#
#   pass_ratio = passed scored checks / scored checks that passed or failed
# (warn and info results are not counted).
#
# Entry point: data.propolis.compliance.decision
#   {"allow": bool, "reasons": [...], "pass_ratio": number,
#    "min_pass_ratio": number, "benchmark": string,
#    "passed": n, "failed": n, "failed_checks": [ids]}
#
# Tunables (data.propolis.compliance):
#   min_pass_ratio          {"<benchmark>": 0..1}
#   default_min_pass_ratio  for benchmarks not listed (default 1.0)
package propolis.compliance

import rego.v1

import data.propolis.lib

default _ratios := {}

_ratios := v if {
	v := data.propolis.compliance.min_pass_ratio
	is_object(v)
}

default _default_ratio := 1

_default_ratio := v if {
	v := data.propolis.compliance.default_min_pass_ratio
	is_number(v)
}

_input := input if is_object(input)

else := {}

benchmark := lib.get_string(_input, "benchmark")

# Minimum pass ratio for this benchmark.
required_pass_ratio := r if {
	r := _ratios[benchmark]
	is_number(r)
} else := _default_ratio

_status_map := {
	"pass": "pass", "passed": "pass",
	"fail": "fail", "failed": "fail", "error": "fail",
	"warn": "warn", "manual": "warn",
	"info": "info", "not_applicable": "info", "skip": "info", "skipped": "info",
}

_results := [r | some r in lib.get_array(_input, "results"); is_object(r)]

_status(r) := s if {
	s := _status_map[lib.lower_string(object.get(r, "status", ""))]
} else := "fail"

_scored(r) if object.get(r, "scored", true) != false

_id(r) := sprintf("%v", [id]) if {
	id := object.get(r, "id", null)
	id != null
	id != ""
} else := "<no id>"

# Scored results that count towards the ratio.
_counted := [r | some r in _results; _scored(r); _status(r) in {"pass", "fail"}]

passed := count([r | some r in _counted; _status(r) == "pass"])

failed := count(_counted) - passed

_ratio := passed / count(_counted) if count(_counted) > 0

else := 0

pass_ratio := round(_ratio * 10000) / 10000

# Failed scored checks, sorted by id.
failed_checks := sort([_id(r) | some r in _counted; _status(r) == "fail"])

_raw_status(r) := sprintf("%v", [object.get(r, "status", null)])

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

deny contains msg if {
	benchmark == ""
	msg := "benchmark_missing: input.benchmark is missing; the result set cannot be attributed to a benchmark"
}

deny contains msg if {
	count(_counted) == 0
	msg := sprintf(
		"no_scored_results: benchmark '%s' reported no scored check that passed or failed (%d result(s) in total); the run proves nothing",
		[benchmark, count(_results)],
	)
}

# pass_ratio_below_minimum
deny contains msg if {
	count(_counted) > 0
	_ratio < required_pass_ratio
	msg := sprintf(
		"pass_ratio_below_minimum: benchmark '%s' passed %d of %d scored checks (ratio %v), below the minimum %v; fix the failed checks listed in these reasons",
		[benchmark, passed, count(_counted), pass_ratio, required_pass_ratio],
	)
}

# failed_scored_check: listed whether or not the run as a whole passes.
failed_check_reasons contains msg if {
	some r in _counted
	_status(r) == "fail"
	msg := sprintf("failed_scored_check: %s %s (status %s)", [benchmark, _id(r), _raw_status(r)])
}

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny | failed_check_reasons),
	"pass_ratio": pass_ratio,
	"min_pass_ratio": required_pass_ratio,
	"benchmark": benchmark,
	"passed": passed,
	"failed": failed,
	"failed_checks": failed_checks,
}
