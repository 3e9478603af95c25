# Contract tests over every declared decision point: the declarations in
# data.json and the shape of every decision.
package propolis.decision_points_test

import rego.v1

_points := data.propolis.decision_points

_names := {"admission", "registry", "risk", "checkpoints", "runtime", "isolation", "compliance", "ci", "dockerfile"}

# Every decision evaluated on the input in scope, by decision point name.
_decisions := {
	"admission": data.propolis.admission.decision,
	"registry": data.propolis.registry.decision,
	"risk": data.propolis.risk.decision,
	"checkpoints": data.propolis.checkpoints.decision,
	"runtime": data.propolis.runtime.decision,
	"isolation": data.propolis.isolation.decision,
	"compliance": data.propolis.compliance.decision,
	"ci": data.propolis.ci.decision,
	"dockerfile": data.propolis.dockerfile.decision,
}

# "rule_name: ..." or, for runtime detections, "rule_name (severity): ...".
_reason_pattern := `^[a-z][a-z0-9_]*( \((critical|high|medium|low|info)\))?: .+`

_well_formed(d) if {
	is_object(d)
	is_boolean(d.allow)
	is_array(d.reasons)
	d.reasons == sort(d.reasons)
	every r in d.reasons {
		is_string(r)
		regex.match(_reason_pattern, r)
	}
}

test_every_decision_point_declared if {
	{name | some name, _ in _points} == _names
}

test_declarations_have_exactly_the_contract_keys if {
	every _, point in _points {
		{k | some k, _ in point} == {"path", "on_undefined", "on_error", "description"}
	}
}

test_paths_name_the_decision_rule if {
	every name, point in _points {
		point.path == concat("/", ["propolis", name, "decision"])
	}
}

test_descriptions_present if {
	every _, point in _points {
		is_string(point.description)
		count(point.description) > 20
	}
}

test_fail_closed_except_risk if {
	every _, point in object.remove(_points, ["risk"]) {
		point.on_undefined == "deny"
		point.on_error == "deny"
	}
}

test_risk_returns_errors if {
	_points.risk.on_undefined in {"deny", "error"}
	_points.risk.on_error in {"deny", "error"}
}

test_every_decision_defined_and_well_formed_on_empty_input if {
	ds := _decisions with input as {}
	{name | some name, _ in ds} == _names
	every _, d in ds {
		_well_formed(d)
	}
}

test_every_decision_defined_and_well_formed_on_non_object_input if {
	every inp in [[], "x", 1, null] {
		ds := _decisions with input as inp
		{name | some name, _ in ds} == _names
		every _, d in ds {
			_well_formed(d)
		}
	}
}

test_fail_closed_points_deny_empty_input if {
	ds := _decisions with input as {}
	every name in ["admission", "registry", "checkpoints", "isolation", "compliance", "ci"] {
		ds[name].allow == false
		count(ds[name].reasons) > 0
	}
}

test_scoring_and_quiet_events_allow_empty_input if {
	ds := _decisions with input as {}
	ds.risk.allow == true
	ds.risk.score == 0
	ds.runtime.allow == true
	ds.runtime.response == "none"
}

test_area_specific_fields_present if {
	ds := _decisions with input as {}
	is_array(ds.admission.warnings)
	is_boolean(ds.registry.quarantine)
	is_number(ds.risk.score)
	is_array(ds.risk.factors)
	ds.checkpoints.verdict in {"allow", "warn", "block"}
	is_array(ds.runtime.detections)
	is_string(ds.runtime.response)
	is_array(ds.isolation.warnings)
	is_number(ds.compliance.pass_ratio)
	ds.ci.exit_code in {0, 1}
}
