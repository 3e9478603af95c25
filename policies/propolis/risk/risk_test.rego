package propolis.risk_test

import rego.v1

import data.propolis.risk

_factor_defaults := {
	"vulnerabilities": {"weight": 0.02, "free": 0, "cap": 2.0},
	"fixable_vulnerabilities": {"weight": 0.1, "free": 0, "cap": 1.5},
	"known_exploited": {"weight": 0.5, "free": 0, "cap": 3.0},
	"runs_as_root": {"weight": 0.25, "free": 0, "cap": 1.25},
	"setuid_files": {"weight": 0.01, "free": 0, "cap": 1.1},
	"attacker_tools": {"weight": 0.15, "free": 0, "cap": 1.5},
	"image_age": {"weight": 0.002, "free": 90, "cap": 1.3},
	"component_count": {"weight": 0.0005, "free": 200, "cap": 1.2},
}

_points := {"critical": 10, "high": 5, "medium": 2, "low": 0.5, "negligible": 0, "unknown": 0}

# Evaluates with the reference tunables, independent of data.json.
_score(inp) := d if {
	d := risk.decision with input as inp
		with data.propolis.risk.factors as _factor_defaults
		with data.propolis.risk.severity_points as _points
		with data.propolis.risk.fixable_severities as ["critical", "high"]
}

_factor(d, name) := f if {
	some f in d.factors
	f.factor == name
}

_fired(d) := {split(r, ":")[0] | some r in d.reasons}

# Each contribution is rounded to 0.01, so their sum may drift by a few hundredths.
_close(a, b) if abs(a - b) < 0.05

test_no_facts_scores_zero if {
	d := _score({})
	d.allow == true
	d.score == 0
	d.multiplier == 1
	d.reasons == []
	count(d.factors) == 16
	every f in d.factors {
		f.contribution == 0
		f.multiplier == 1
		f.raw_value == 0
	}
}

test_factors_tied_at_zero_sorted_by_name if {
	d := _score({})
	[f.factor | some f in d.factors] == [
		"attacker_tools", "capabilities", "component_count", "exposure", "fixable_vulnerabilities",
		"host_mounts", "host_network", "image_age", "known_exploited", "privileged", "runs_as_root",
		"runtime_alerts", "secrets", "setuid_files", "vulnerabilities", "world_writable",
	]
}

test_single_critical_finding if {
	d := _score({"findings": [{"severity": "critical", "fix_available": false, "known_exploited": false}]})
	d.score == 16.67
	d.multiplier == 1.2
	_fired(d) == {"vulnerabilities"}
	f := _factor(d, "vulnerabilities")
	f.raw_value == 10
	f.multiplier == 1.2
	f.contribution == 16.67
	f.detail == "1 finding(s) worth 10 severity points (1 critical)"
	d.reasons == ["vulnerabilities: 1 finding(s) worth 10 severity points (1 critical); multiplier x1.2 (cap x2), 16.67 of 16.67 score points"]
}

test_severity_is_case_insensitive if {
	_score({"findings": [{"severity": "CRITICAL"}]}).score == 16.67
}

test_vulnerabilities_capped if {
	findings := [{"severity": "critical"} | some _ in numbers.range(1, 100)]
	d := _score({"findings": findings})
	_factor(d, "vulnerabilities").raw_value == 1000
	_factor(d, "vulnerabilities").multiplier == 2
	d.score == 50
}

test_unrated_and_unknown_severities_count_zero_points if {
	d := _score({"findings": [{"severity": "bogus"}, {}, {"severity": 3}, "not a finding"]})
	d.score == 0
	_factor(d, "vulnerabilities").detail == "3 finding(s) worth 0 severity points (2 unrated, 1 bogus)"
}

test_fixable_findings_factor if {
	d := _score({"findings": [
		{"severity": "high", "fix_available": true},
		{"severity": "medium", "fix_available": true},
		{"severity": "critical", "fix_available": false},
	]})
	f := _factor(d, "fixable_vulnerabilities")
	f.raw_value == 1
	f.multiplier == 1.1
	_fired(d) == {"vulnerabilities", "fixable_vulnerabilities"}
}

test_fixable_severities_come_from_data if {
	d := risk.decision with input as {"findings": [{"severity": "medium", "fix_available": true}]}
		with data.propolis.risk.fixable_severities as ["medium"]
	_factor(d, "fixable_vulnerabilities").raw_value == 1
}

test_known_exploited_factor if {
	d := _score({"findings": [{"severity": "low", "known_exploited": true}]})
	_factor(d, "known_exploited").multiplier == 1.5
	_factor(d, "vulnerabilities").multiplier == 1.01
	d.score == 33.99
	_factor(d, "known_exploited").contribution > _factor(d, "vulnerabilities").contribution
	d.factors[0].factor == "known_exploited"
	d.factors[1].factor == "vulnerabilities"
}

test_known_exploited_must_be_true if {
	d := _score({"findings": [{"severity": "negligible", "known_exploited": "yes"}]})
	d.score == 0
}

test_runs_as_root_factor if {
	d := _score({"config": {"runs_as_root": true}})
	d.score == 20
	d.reasons == ["runs_as_root: the image runs as root; multiplier x1.25 (cap x1.25), 20 of 20 score points"]
	_score({"config": {"runs_as_root": false}}).score == 0
	_score({"config": {"runs_as_root": "true"}}).score == 0
}

test_setuid_files_as_list_or_count if {
	_factor(_score({"config": {"setuid_files": ["/usr/bin/passwd", "/bin/su"]}}), "setuid_files").raw_value == 2
	_factor(_score({"config": {"setuid_files": 5}}), "setuid_files").multiplier == 1.05
	_factor(_score({"config": {"setuid_files": 500}}), "setuid_files").multiplier == 1.1
	_factor(_score({"config": {"setuid_files": -3}}), "setuid_files").raw_value == 0
	_factor(_score({"config": {"setuid_files": "many"}}), "setuid_files").raw_value == 0
}

test_attacker_tools_factor if {
	d := _score({"config": {"attacker_tools": ["nmap", "nc", "nc", 7]}})
	f := _factor(d, "attacker_tools")
	f.raw_value == 2
	f.multiplier == 1.3
	f.detail == "attacker tools in the image: nc, nmap"
}

test_image_age_has_free_allowance if {
	_factor(_score({"image_age_days": 90}), "image_age").multiplier == 1
	_factor(_score({"image_age_days": 140}), "image_age").multiplier == 1.1
	_factor(_score({"image_age_days": 5000}), "image_age").multiplier == 1.3
	_factor(_score({"image_age_days": "old"}), "image_age").raw_value == 0
}

test_component_count_has_free_allowance if {
	_factor(_score({"component_count": 150}), "component_count").multiplier == 1
	_factor(_score({"component_count": 400}), "component_count").multiplier == 1.1
	_factor(_score({"component_count": 100000}), "component_count").multiplier == 1.2
}

test_product_of_capped_multipliers if {
	d := _score({
		"findings": [{"severity": "critical", "fix_available": true, "known_exploited": true}],
		"config": {"runs_as_root": true},
	})

	# 1.2 (vulns) * 1.1 (fixable) * 1.5 (exploited) * 1.25 (root) = 2.475
	d.multiplier == 2.48
	d.score == 59.6
	_fired(d) == {"vulnerabilities", "fixable_vulnerabilities", "known_exploited", "runs_as_root"}
}

test_contributions_add_up_to_the_score if {
	d := _score({
		"findings": [{"severity": "critical", "fix_available": true, "known_exploited": true}, {"severity": "high"}],
		"config": {"runs_as_root": true, "setuid_files": 3, "attacker_tools": ["nc"]},
		"image_age_days": 200,
		"component_count": 900,
	})
	_close(sum([f.contribution | some f in d.factors]), d.score)
}

test_factors_sorted_by_contribution if {
	d := _score({
		"findings": [{"severity": "critical", "known_exploited": true}],
		"config": {"runs_as_root": true, "setuid_files": 1},
	})
	contributions := [f.contribution | some f in d.factors]
	every i in numbers.range(1, count(contributions) - 1) {
		contributions[i - 1] >= contributions[i]
	}
}

test_maximum_score_stays_below_100 if {
	d := _score({
		"findings": [{"severity": "critical", "fix_available": true, "known_exploited": true} | some _ in numbers.range(1, 20)],
		"config": {"runs_as_root": true, "setuid_files": 100, "attacker_tools": ["a", "b", "c", "d"]},
		"image_age_days": 10000,
		"component_count": 10000,
	})
	d.score == 96.55
	d.score < 100
	d.allow == true
	count(d.reasons) == 8
}

test_factor_weights_come_from_data if {
	d := risk.decision with input as {"config": {"runs_as_root": true}}
		with data.propolis.risk.factors as {"runs_as_root": {"weight": 1, "cap": 2}}
	d.score == 50
}

test_partial_factor_override_keeps_other_settings if {
	# Only the cap changes; the weight stays 0.02 per severity point.
	d := risk.decision with input as {"findings": [{"severity": "critical"} | some _ in numbers.range(1, 100)]}
		with data.propolis.risk.factors as {"vulnerabilities": {"cap": 3}}
	_factor(d, "vulnerabilities").multiplier == 3
	d2 := risk.decision with input as {"findings": [{"severity": "critical"}]}
		with data.propolis.risk.factors as {"vulnerabilities": {"cap": 3}}
	_factor(d2, "vulnerabilities").multiplier == 1.2
}

test_invalid_factor_override_ignored if {
	d := risk.decision with input as {"config": {"runs_as_root": true}}
		with data.propolis.risk.factors as {"runs_as_root": {"weight": "heavy"}, "vulnerabilities": "x"}
	d.score == 20
}

test_cap_below_one_never_lowers_the_score if {
	d := risk.decision with input as {"config": {"runs_as_root": true}}
		with data.propolis.risk.factors as {"runs_as_root": {"cap": 0.5}}
	d.score == 0
	d.multiplier == 1
}

test_severity_points_come_from_data if {
	d := risk.decision with input as {"findings": [{"severity": "medium"}]}
		with data.propolis.risk.severity_points as {"medium": 50}
		with data.propolis.risk.factors as _factor_defaults
	_factor(d, "vulnerabilities").raw_value == 50
	_factor(d, "vulnerabilities").multiplier == 2
}

test_malformed_input_does_not_error if {
	d := _score({"findings": "many", "config": ["root"], "image_age_days": null, "component_count": {"n": 3}})
	d.score == 0
	d.allow == true
}

# ---------------------------------------------------------------------------
# Image facts beyond findings
# ---------------------------------------------------------------------------

test_secrets_factor_weighs_by_severity if {
	d := _score({"secrets": {"critical": 1, "HIGH": 2, "bogus": 4, "low": -1}})
	f := _factor(d, "secrets")
	f.raw_value == 20
	f.multiplier == 1.5
	f.detail == "7 secret(s) in the image worth 20 severity points"
	_fired(d) == {"secrets"}
	_factor(_score({"secrets": {"medium": 1}}), "secrets").multiplier == 1.06
	_factor(_score({"secrets": "lots"}), "secrets").raw_value == 0
}

test_attacker_packages_come_from_the_data_list if {
	d := _score({"packages": ["Bash", "curl", "openssl", "libc6", 3], "config": {"attacker_tools": ["nc"]}})
	f := _factor(d, "attacker_tools")
	f.raw_value == 3
	f.detail == "attacker tools in the image: bash, curl, nc"
	d2 := risk.decision with input as {"packages": ["bash", "openssl"]}
		with data.propolis.risk.attacker_packages as ["OpenSSL", 4]
	_factor(d2, "attacker_tools").detail == "attacker tools in the image: openssl"
	_score({"packages": ["sh", "busybox-binsh", "libc6"]}).score == 0
}

test_world_writable_factor if {
	_factor(_score({"config": {"world_writable": ["/data", "/srv/x"]}}), "world_writable").raw_value == 2
	f := _factor(_score({"config": {"world_writable": 5}}), "world_writable")
	f.multiplier == 1.1
	f.detail == "5 world-writable path(s) in the image"
	_factor(_score({"config": {"world_writable": 50}}), "world_writable").multiplier == 1.2
}

# ---------------------------------------------------------------------------
# Deployment context and runtime evidence
# ---------------------------------------------------------------------------

test_privileged_factor if {
	d := _score({"deployment": {"privileged": true}})
	d.score == 33.33
	_factor(d, "privileged").detail == "deployed as a privileged container"
	_factor(_score({"deployment": {"privileged": false}}), "privileged").detail == "not deployed privileged"
	_score({"deployment": {"privileged": "yes"}}).score == 0
}

test_capabilities_factor if {
	f := _factor(_score({"deployment": {"capabilities": ["net_admin", "NET_ADMIN", "SYS_PTRACE", 1]}}), "capabilities")
	f.raw_value == 2
	f.multiplier == 1.2
	f.detail == "2 added capabilities: NET_ADMIN, SYS_PTRACE"
	_factor(_score({"deployment": {"capabilities": ["A", "B", "C", "D", "E"]}}), "capabilities").multiplier == 1.3
	_factor(_score({}), "capabilities").detail == "no added capabilities"
}

test_host_mounts_factor if {
	f := _factor(_score({"deployment": {"host_mounts": ["/var/run/docker.sock"]}}), "host_mounts")
	f.multiplier == 1.15
	f.detail == "1 host path mount(s)"
	_factor(_score({"deployment": {"host_mounts": 4}}), "host_mounts").multiplier == 1.3
}

test_host_network_factor if {
	d := _score({"deployment": {"host_network": true}})
	_factor(d, "host_network").multiplier == 1.2
	_factor(d, "host_network").detail == "shares the host network namespace"
	_factor(_score({}), "host_network").detail == "not on the host network"
}

test_exposure_factor if {
	_factor(_score({}), "exposure").detail == "no exposed ports"
	internal := _factor(_score({"deployment": {"exposed_ports": [8080, 8080, 9090]}}), "exposure")
	internal.raw_value == 1
	internal.multiplier == 1.1
	internal.detail == "2 exposed port(s) inside the cluster"
	external := _factor(_score({"deployment": {"exposed_ports": [443], "ingress": true}}), "exposure")
	external.raw_value == 2
	external.multiplier == 1.2
	external.detail == "reachable from outside the cluster through an ingress (1 exposed port(s))"
}

test_runtime_alerts_factor if {
	d := _score({"runtime": {"alerts": {"Critical": 1, "warning": 2, "debug": 9, "odd": 3}}})
	f := _factor(d, "runtime_alerts")
	f.raw_value == 14
	f.multiplier == 1.28
	f.detail == "15 runtime alert(s) worth 14 priority points"
	_fired(d) == {"runtime_alerts"}
	d2 := risk.decision with input as {"runtime": {"alerts": {"warning": 1}}}
		with data.propolis.risk.alert_points as {"warning": 50}
	_factor(d2, "runtime_alerts").multiplier == 2
}

test_absent_context_contributes_nothing if {
	d := _score({"deployment": "none", "runtime": {"alerts": []}, "secrets": {}, "packages": "bash"})
	d.score == 0
	d.reasons == []
}
