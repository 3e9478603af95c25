# Risk scoring: turns facts about an image into a score from 0 (no known
# risk) to 100. Scoring is not a verdict: `allow` is always true; the
# registry gate and the checkpoints compare the score with their bars.
#
# Input:
#   {"findings": [{"severity": "critical", "fix_available": true,
#                  "known_exploited": false}, ...],
#    "secrets": {"critical": 1, "high": 2},        (secret counts by severity)
#    "packages": ["bash", "curl", "openssl"],       (package names in the image)
#    "config": {"runs_as_root": true, "setuid_files": 3 | [paths],
#               "world_writable": 2 | [paths],
#               "attacker_tools": ["nc", "nmap"]},
#    "image_age_days": 120,
#    "component_count": 412,
#    "deployment": {"privileged": true, "capabilities": ["NET_ADMIN"],
#                   "host_mounts": 1 | [paths], "host_network": false,
#                   "exposed_ports": [8080], "ingress": true},     (optional)
#    "runtime": {"alerts": {"critical": 1, "warning": 3}}}         (optional)
#
# Attacker tools are the names in config.attacker_tools plus the package
# names that appear in data.propolis.risk.attacker_packages (shells beyond
# /bin/sh, package managers, download and network tools, debuggers).
# Absent facts contribute nothing (multiplier 1).
#
# Every factor yields a multiplier >= 1:
#   multiplier = min(1 + max(raw_value - free, 0) * weight, cap)
# and the score is derived from their product M, as in StackRox:
#   score = 100 * (1 - 1 / M)        (M = 1 -> 0, M = 2 -> 50, M = 4 -> 75)
# Each factor's `contribution` is its share of the score in points,
# proportional to (multiplier - 1).
#
# Entry point: data.propolis.risk.decision
#   {"allow": true, "reasons": [...], "score": number, "multiplier": number,
#    "factors": [{"factor", "raw_value", "multiplier", "contribution",
#                 "detail"}, ...]}   (largest contribution first)
#
# Tunables (data.propolis.risk): severity_points (findings and secrets),
# alert_points (runtime alert priorities), fixable_severities,
# attacker_packages and per-factor {weight, free, cap} under "factors";
# values given in data override the defaults below key by key.
package propolis.risk

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

_default_severity_points := {
	"critical": 10, "high": 5, "medium": 2, "low": 0.5,
	"negligible": 0, "unknown": 0,
}

_default_factors := {
	"vulnerabilities": {"weight": 0.02, "free": 0, "cap": 2.0},
	"fixable_vulnerabilities": {"weight": 0.1, "free": 0, "cap": 1.5},
	"known_exploited": {"weight": 0.5, "free": 0, "cap": 3.0},
	"runs_as_root": {"weight": 0.25, "free": 0, "cap": 1.25},
	"setuid_files": {"weight": 0.01, "free": 0, "cap": 1.1},
	"attacker_tools": {"weight": 0.15, "free": 0, "cap": 1.5},
	"image_age": {"weight": 0.002, "free": 90, "cap": 1.3},
	"component_count": {"weight": 0.0005, "free": 200, "cap": 1.2},
	"secrets": {"weight": 0.03, "free": 0, "cap": 1.5},
	"world_writable": {"weight": 0.02, "free": 0, "cap": 1.2},
	"privileged": {"weight": 0.5, "free": 0, "cap": 1.5},
	"capabilities": {"weight": 0.1, "free": 0, "cap": 1.3},
	"host_mounts": {"weight": 0.15, "free": 0, "cap": 1.3},
	"host_network": {"weight": 0.2, "free": 0, "cap": 1.2},
	"exposure": {"weight": 0.1, "free": 0, "cap": 1.2},
	"runtime_alerts": {"weight": 0.02, "free": 0, "cap": 2.0},
}

_default_alert_points := {
	"emergency": 10, "alert": 10, "critical": 10, "error": 5,
	"warning": 2, "notice": 1, "informational": 0, "debug": 0,
}

_default_attacker_packages := [
	"bash", "zsh", "ksh", "mksh", "tcsh", "csh", "fish",
	"apt", "dpkg", "apk-tools", "rpm", "yum", "dnf", "pip", "python3-pip", "py3-pip",
	"curl", "wget", "netcat", "netcat-openbsd", "netcat-traditional", "ncat", "nmap-ncat",
	"nmap", "socat", "gdb", "strace", "tcpdump",
]

default _alert_points := {}

_alert_points := v if {
	v := data.propolis.risk.alert_points
	is_object(v)
}

_alert_table := object.union(_default_alert_points, _alert_points)

_attacker_packages := {lib.lower_string(n) | some n in v; is_string(n)} if {
	v := data.propolis.risk.attacker_packages
	is_array(v)
} else := {n | some n in _default_attacker_packages}

default _severity_points := {}

_severity_points := v if {
	v := data.propolis.risk.severity_points
	is_object(v)
}

default _factor_overrides := {}

_factor_overrides := v if {
	v := data.propolis.risk.factors
	is_object(v)
}

default _fixable_severities := ["critical", "high"]

_fixable_severities := v if {
	v := data.propolis.risk.fixable_severities
	is_array(v)
}

_points_table := object.union(_default_severity_points, _severity_points)

_fixable_severity_set := {lib.lower_string(s) | some s in _fixable_severities}

# Effective {weight, free, cap} of a factor; non-numeric overrides are ignored.
_setting(factor, key) := v if {
	v := object.get(lib.as_object(_factor_overrides[factor]), key, null)
	is_number(v)
} else := _default_factors[factor][key]

# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_findings := [f | some f in lib.get_array(_input, "findings"); is_object(f)]

_config := lib.get_object(_input, "config")

_severity(f) := lib.lower_string(object.get(f, "severity", ""))

_points(f) := p if {
	p := _points_table[_severity(f)]
	is_number(p)
} else := 0

_non_negative(x) := x if {
	is_number(x)
	x > 0
} else := 0

_severity_counts := {s: n |
	some s in {_severity(f) | some f in _findings}
	n := count([f | some f in _findings; _severity(f) == s])
}

_severity_order := ["critical", "high", "medium", "low", "negligible", "unknown"]

_other_severities := sort([s | some s, _ in _severity_counts; not s in _severity_order])

_severity_label(s) := "unrated" if s == ""

else := s

# "1 critical, 2 high, 1 unrated": counts in severity order, then the rest.
_severity_breakdown := concat(", ", [sprintf("%d %s", [_severity_counts[s], _severity_label(s)]) |
	some s in array.concat(_severity_order, _other_severities)
	_severity_counts[s]
])

_package_names := {lower(n) | some n in lib.get_array(_input, "packages"); is_string(n)}

_attacker_tools := sort({t | some t in lib.get_array(_config, "attacker_tools"); is_string(t)} | (_package_names & _attacker_packages))

# A count given as a number, or as the list of things counted.
_count_of(obj, key) := count(v) if {
	v := object.get(obj, key, 0)
	is_array(v)
} else := _non_negative(object.get(obj, key, 0))

_flag(obj, key) := 1 if object.get(obj, key, false) == true

else := 0

_secrets := lib.get_object(_input, "secrets")

_secret_count := sum([_non_negative(n) | some _, n in _secrets])

_table_points(table, key) := p if {
	p := table[lib.lower_string(key)]
	is_number(p)
} else := 0

_deployment := lib.get_object(_input, "deployment")

_capabilities := sort({upper(c) | some c in lib.get_array(_deployment, "capabilities"); is_string(c)})

_ports := {p | some p in lib.get_array(_deployment, "exposed_ports")}

# 0 not exposed, 1 ports exposed inside the cluster, 2 reachable from outside (ingress).
_exposure := 2 if object.get(_deployment, "ingress", false) == true

else := 1 if count(_ports) > 0

else := 0

_alerts := lib.get_object(lib.get_object(_input, "runtime"), "alerts")

_alert_count := sum([_non_negative(n) | some _, n in _alerts])

# raw values and human-readable details per factor
_raw := {
	"vulnerabilities": sum([_points(f) | some f in _findings]),
	"fixable_vulnerabilities": count([f |
		some f in _findings
		object.get(f, "fix_available", false) == true
		_severity(f) in _fixable_severity_set
	]),
	"known_exploited": count([f | some f in _findings; object.get(f, "known_exploited", false) == true]),
	"runs_as_root": _flag(_config, "runs_as_root"),
	"setuid_files": _count_of(_config, "setuid_files"),
	"attacker_tools": count(_attacker_tools),
	"image_age": _non_negative(object.get(_input, "image_age_days", 0)),
	"component_count": _non_negative(object.get(_input, "component_count", 0)),
	"secrets": sum([(_non_negative(n) * _table_points(_points_table, s)) | some s, n in _secrets]),
	"world_writable": _count_of(_config, "world_writable"),
	"privileged": _flag(_deployment, "privileged"),
	"capabilities": count(_capabilities),
	"host_mounts": _count_of(_deployment, "host_mounts"),
	"host_network": _flag(_deployment, "host_network"),
	"exposure": _exposure,
	"runtime_alerts": sum([(_non_negative(n) * _table_points(_alert_table, p)) | some p, n in _alerts]),
}

_detail_text("vulnerabilities", _) := "no findings" if count(_findings) == 0

_detail_text("vulnerabilities", raw) := sprintf("%d finding(s) worth %v severity points (%s)", [count(_findings), raw, _severity_breakdown]) if count(_findings) > 0

_detail_text("fixable_vulnerabilities", raw) := sprintf("%v %s finding(s) have a fix available", [raw, concat("/", sort(_fixable_severity_set))])

_detail_text("known_exploited", raw) := sprintf("%v finding(s) are known to be exploited in the wild", [raw])

_detail_text("runs_as_root", 0) := "the image does not run as root"

_detail_text("runs_as_root", 1) := "the image runs as root"

_detail_text("setuid_files", raw) := sprintf("%v setuid/setgid file(s) in the image", [raw])

_detail_text("attacker_tools", 0) := "no attacker tools in the image"

_detail_text("attacker_tools", raw) := sprintf("attacker tools in the image: %s", [concat(", ", _attacker_tools)]) if raw != 0

_detail_text("image_age", raw) := sprintf("the image is %v days old (free allowance %v days)", [raw, _setting("image_age", "free")])

_detail_text("component_count", raw) := sprintf("%v components (free allowance %v)", [raw, _setting("component_count", "free")])

_detail_text("secrets", raw) := sprintf("%v secret(s) in the image worth %v severity points", [_secret_count, raw])

_detail_text("world_writable", raw) := sprintf("%v world-writable path(s) in the image", [raw])

_detail_text("privileged", 0) := "not deployed privileged"

_detail_text("privileged", 1) := "deployed as a privileged container"

_detail_text("capabilities", 0) := "no added capabilities"

_detail_text("capabilities", raw) := sprintf("%v added capabilities: %s", [raw, concat(", ", _capabilities)]) if raw != 0

_detail_text("host_mounts", raw) := sprintf("%v host path mount(s)", [raw])

_detail_text("host_network", 0) := "not on the host network"

_detail_text("host_network", 1) := "shares the host network namespace"

_detail_text("exposure", 0) := "no exposed ports"

_detail_text("exposure", 1) := sprintf("%v exposed port(s) inside the cluster", [count(_ports)])

_detail_text("exposure", 2) := sprintf("reachable from outside the cluster through an ingress (%v exposed port(s))", [count(_ports)])

_detail_text("runtime_alerts", raw) := sprintf("%v runtime alert(s) worth %v priority points", [_alert_count, raw])

_detail := {factor: _detail_text(factor, raw) | some factor, raw in _raw}

# ---------------------------------------------------------------------------
# Score
# ---------------------------------------------------------------------------

_multiplier(factor) := max([1, min([
	1 + max([_raw[factor] - _setting(factor, "free"), 0]) * _setting(factor, "weight"),
	_setting(factor, "cap"),
])])

_multipliers := {factor: _multiplier(factor) | some factor, _ in _default_factors}

# Product of the capped multipliers (1 when no factor applies).
multiplier := product([m | some m in _multipliers])

score := lib.round2(100 * (1 - (1 / multiplier)))

_excess_total := sum([(m - 1) | some m in _multipliers])

_contribution(factor) := lib.round2((score * (_multipliers[factor] - 1)) / _excess_total) if _excess_total > 0

else := 0

_factor_entries := {factor: {
	"factor": factor,
	"raw_value": _raw[factor],
	"multiplier": lib.round2(_multipliers[factor]),
	"contribution": _contribution(factor),
	"detail": _detail[factor],
} |
	some factor, _ in _default_factors
}

# Every factor, largest contribution first (ties by name).
ranked_factors := [_factor_entries[pair[1]] | some pair in sort([[0 - e.contribution, name] | some name, e in _factor_entries])]

# ---------------------------------------------------------------------------
# Reasons: one per factor that raises the score
# ---------------------------------------------------------------------------

reasons contains msg if {
	some factor, m in _multipliers
	m > 1
	msg := sprintf("%s: %s; multiplier x%v (cap x%v), %v of %v score points", [
		factor, _detail[factor], lib.round2(m), _setting(factor, "cap"),
		_contribution(factor), score,
	])
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

decision := {
	"allow": true,
	"reasons": sort(reasons),
	"score": score,
	"multiplier": lib.round2(multiplier),
	"factors": ranked_factors,
}
