package propolis.compliance_test

import rego.v1

import data.propolis.compliance

_ratios := {"cis-kubernetes": 0.9, "cis-docker": 0.5}

_decide(inp) := d if {
	d := compliance.decision with input as inp
		with data.propolis.compliance.min_pass_ratio as _ratios
		with data.propolis.compliance.default_min_pass_ratio as 1
}

# n passing scored checks "1.<i>", then the extra results.
# (numbers.range(1, 0) is [1, 0], hence the filter.)
_run(benchmark, n, extra) := {
	"benchmark": benchmark,
	"results": array.concat([{"id": sprintf("1.%d", [i]), "status": "pass", "scored": true} |
		some i in numbers.range(1, n)
		i >= 1
		i <= n
	], extra),
}

_fired(d) := {split(r, ":")[0] | some r in d.reasons}

test_all_checks_pass if {
	d := _decide(_run("cis-kubernetes", 10, []))
	d.allow == true
	d.reasons == []
	d.pass_ratio == 1
	d.min_pass_ratio == 0.9
	d.passed == 10
	d.failed == 0
	d.failed_checks == []
	d.benchmark == "cis-kubernetes"
}

test_ratio_above_minimum_allows_but_lists_failures if {
	d := _decide(_run("cis-kubernetes", 19, [{"id": "4.2.6", "status": "fail", "scored": true}]))
	d.allow == true
	d.pass_ratio == 0.95
	d.failed_checks == ["4.2.6"]
	d.reasons == ["failed_scored_check: cis-kubernetes 4.2.6 (status fail)"]
}

test_ratio_exactly_at_minimum_allows if {
	d := _decide(_run("cis-kubernetes", 9, [{"id": "4.2.6", "status": "fail", "scored": true}]))
	d.pass_ratio == 0.9
	d.allow == true
}

test_ratio_below_minimum_denies if {
	d := _decide(_run("cis-kubernetes", 8, [
		{"id": "4.2.6", "status": "fail", "scored": true},
		{"id": "1.2.16", "status": "FAILED", "scored": true},
	]))
	d.allow == false
	d.pass_ratio == 0.8
	d.failed == 2
	d.failed_checks == ["1.2.16", "4.2.6"]
	d.reasons == [
		"failed_scored_check: cis-kubernetes 1.2.16 (status FAILED)",
		"failed_scored_check: cis-kubernetes 4.2.6 (status fail)",
		"pass_ratio_below_minimum: benchmark 'cis-kubernetes' passed 8 of 10 scored checks (ratio 0.8), below the minimum 0.9; fix the failed checks listed in these reasons",
	]
}

test_minimum_differs_per_benchmark if {
	run := [{"id": "x", "status": "fail", "scored": true}]
	_decide(_run("cis-docker", 1, run)).allow == true
	_decide(_run("cis-kubernetes", 1, run)).allow == false
}

test_unlisted_benchmark_uses_default_minimum if {
	d := _decide(_run("cis-linux", 99, [{"id": "x", "status": "fail", "scored": true}]))
	d.min_pass_ratio == 1
	d.allow == false
	d2 := compliance.decision with input as _run("cis-linux", 99, [{"id": "x", "status": "fail", "scored": true}])
		with data.propolis.compliance.min_pass_ratio as {}
		with data.propolis.compliance.default_min_pass_ratio as 0.5
	d2.allow == true
}

test_invalid_minimum_in_data_falls_back_to_default if {
	d := compliance.decision with input as _run("cis-docker", 1, [])
		with data.propolis.compliance.min_pass_ratio as {"cis-docker": "high"}
		with data.propolis.compliance.default_min_pass_ratio as "strict"
	d.min_pass_ratio == 1
}

test_unscored_failures_ignored if {
	d := _decide(_run("cis-kubernetes", 3, [{"id": "5.1.1", "status": "fail", "scored": false}]))
	d.allow == true
	d.reasons == []
	d.pass_ratio == 1
}

test_warn_and_info_not_counted if {
	d := _decide(_run("cis-kubernetes", 3, [
		{"id": "5.2.1", "status": "warn", "scored": true},
		{"id": "5.2.2", "status": "info", "scored": true},
		{"id": "5.2.3", "status": "manual", "scored": true},
		{"id": "5.2.4", "status": "not_applicable", "scored": true},
	]))
	d.allow == true
	d.passed == 3
	d.failed == 0
}

test_missing_scored_counts_as_scored if {
	d := _decide(_run("cis-kubernetes", 3, [{"id": "5.3.1", "status": "fail"}]))
	d.failed_checks == ["5.3.1"]
	d.allow == false
}

test_unknown_status_counts_as_failure if {
	d := _decide(_run("cis-kubernetes", 20, [{"id": "5.4.1", "status": "timeout", "scored": true}, {"id": "5.4.2", "scored": true}]))
	d.failed_checks == ["5.4.1", "5.4.2"]
	some r in d.reasons
	r == "failed_scored_check: cis-kubernetes 5.4.1 (status timeout)"
	some r2 in d.reasons
	r2 == "failed_scored_check: cis-kubernetes 5.4.2 (status null)"
}

test_error_status_is_failure_and_passed_is_pass if {
	d := _decide(_run("cis-kubernetes", 0, [
		{"id": "a", "status": "PASSED", "scored": true},
		{"id": "b", "status": "error", "scored": true},
	]))
	d.passed == 1
	d.failed_checks == ["b"]
}

test_missing_ids_and_numeric_ids if {
	d := _decide(_run("cis-kubernetes", 0, [{"status": "fail"}, {"id": 42, "status": "fail"}]))
	d.failed_checks == ["42", "<no id>"]
}

test_no_scored_results_denied if {
	d := _decide({"benchmark": "cis-kubernetes", "results": [{"id": "1", "status": "warn"}, {"id": "2", "status": "pass", "scored": false}]})
	d.allow == false
	d.pass_ratio == 0
	_fired(d) == {"no_scored_results"}
	d.reasons == ["no_scored_results: benchmark 'cis-kubernetes' reported no scored check that passed or failed (2 result(s) in total); the run proves nothing"]
}

test_malformed_results_denied if {
	_fired(_decide({"benchmark": "cis-kubernetes", "results": "all good"})) == {"no_scored_results"}
	_fired(_decide({"benchmark": "cis-kubernetes", "results": [null, "1.1.1", 3]})) == {"no_scored_results"}
}

test_missing_benchmark_denied if {
	d := _decide({"results": [{"id": "1", "status": "pass", "scored": true}]})
	d.allow == false
	_fired(d) == {"benchmark_missing"}
	d.min_pass_ratio == 1
}

test_empty_input_denied if {
	d := _decide({})
	_fired(d) == {"benchmark_missing", "no_scored_results"}
}
