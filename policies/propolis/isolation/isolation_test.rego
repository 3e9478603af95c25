package propolis.isolation_test

import rego.v1

import data.propolis.isolation

_conn := {"src": "payments/api", "dst": "payments/postgres", "port": 5432, "protocol": "tcp"}

_learned := [
	{"src": "payments/api", "dst": "payments/postgres", "port": 5432, "protocol": "tcp"},
	{"src": "payments/api", "dst": "payments/redis", "port": 6379, "protocol": "tcp"},
]

_req(mode, conn) := {"mode": mode, "connection": conn, "learned_rules": _learned}

_unlearned := object.union(_conn, {"dst": "internet/203.0.113.7", "port": 4444})

_decide(inp) := d if {
	d := isolation.decision with input as inp
		with data.propolis.isolation.quarantined_workloads as []
}

_fired(messages) := {split(m, ":")[0] | some m in messages}

_clean(d) if {
	d.allow == true
	d.reasons == []
	d.warnings == []
	d.quarantined == false
}

# ---------------------------------------------------------------------------
# Learned connections
# ---------------------------------------------------------------------------

test_learned_connection_allowed_in_every_mode if {
	every mode in ["discover", "monitor", "protect"] {
		d := _decide(_req(mode, _conn))
		_clean(d)
		d.mode == mode
		d.learned == true
		d.learn == false
	}
}

test_mode_is_case_insensitive if {
	_decide(_req("PROTECT", _conn)).mode == "protect"
}

# ---------------------------------------------------------------------------
# Unlearned connections per mode
# ---------------------------------------------------------------------------

test_discover_allows_and_learns_unlearned if {
	d := _decide(_req("discover", _unlearned))
	_clean(d)
	d.learned == false
	d.learn == true
}

test_monitor_allows_unlearned_with_warning if {
	d := _decide(_req("monitor", _unlearned))
	d.allow == true
	d.reasons == []
	d.learn == false
	d.warnings == ["unlearned_connection: payments/api -> internet/203.0.113.7 tcp/4444 matches no learned rule; allowed in monitor mode, it would be denied in protect mode"]
}

test_protect_denies_unlearned if {
	d := _decide(_req("protect", _unlearned))
	d.allow == false
	d.warnings == []
	d.reasons == ["unlearned_connection: payments/api -> internet/203.0.113.7 tcp/4444 matches no learned rule and the workload is in protect mode"]
}

test_protect_denies_without_learned_rules if {
	d := _decide({"mode": "protect", "connection": _conn})
	_fired(d.reasons) == {"unlearned_connection"}
	d2 := _decide({"mode": "protect", "connection": _conn, "learned_rules": "all"})
	_fired(d2.reasons) == {"unlearned_connection"}
}

test_unknown_mode_enforced_as_protect if {
	every mode in ["enforce", "", 3] {
		d := _decide(_req(mode, _unlearned))
		d.mode == "protect"
		d.allow == false
		_fired(d.reasons) == {"unlearned_connection"}
		_fired(d.warnings) == {"unknown_mode"}
	}
	d := _decide({"connection": _conn, "learned_rules": _learned})
	d.allow == true
	_fired(d.warnings) == {"unknown_mode"}
}

# ---------------------------------------------------------------------------
# Rule matching
# ---------------------------------------------------------------------------

test_each_field_must_match if {
	_decide(_req("protect", object.union(_conn, {"src": "payments/worker"}))).allow == false
	_decide(_req("protect", object.union(_conn, {"dst": "payments/mysql"}))).allow == false
	_decide(_req("protect", object.union(_conn, {"port": 5433}))).allow == false
	_decide(_req("protect", object.union(_conn, {"protocol": "udp"}))).allow == false
}

test_protocol_case_insensitive_and_defaults_to_tcp if {
	_decide(_req("protect", object.union(_conn, {"protocol": "TCP"}))).allow == true
	_decide(_req("protect", object.remove(_conn, ["protocol"]))).allow == true
}

test_port_as_string if {
	_decide(_req("protect", object.union(_conn, {"port": "5432"}))).allow == true
	rules := [object.union(_learned[0], {"port": "5432"})]
	_decide({"mode": "protect", "connection": _conn, "learned_rules": rules}).allow == true
}

test_wildcards_in_learned_rules if {
	every rule in [
		{"src": "payments/api", "dst": "*", "port": 5432, "protocol": "tcp"},
		{"src": "*", "dst": "payments/postgres"},
		{"src": "payments/api", "dst": "payments/postgres", "port": 0, "protocol": "any"},
		{"dst": "payments/postgres", "port": "*", "protocol": "*"},
	] {
		d := _decide({"mode": "protect", "connection": _conn, "learned_rules": [rule]})
		d.allow == true
		d.learned == true
	}
}

test_malformed_learned_rules_ignored if {
	d := _decide({"mode": "protect", "connection": _conn, "learned_rules": [null, "payments/api", 5, {"port": "x"}]})
	d.allow == false
}

# ---------------------------------------------------------------------------
# Invalid connections
# ---------------------------------------------------------------------------

test_invalid_connection_denied_in_protect if {
	every conn in [
		object.remove(_conn, ["src"]),
		object.union(_conn, {"dst": ""}),
		object.union(_conn, {"port": 0}),
		object.union(_conn, {"port": 70000}),
		object.union(_conn, {"port": "http"}),
		"payments/api -> payments/postgres",
	] {
		d := _decide(_req("protect", conn))
		d.allow == false
		_fired(d.reasons) == {"invalid_connection"}
	}
}

test_invalid_connection_warns_in_discover_and_monitor if {
	every mode in ["discover", "monitor"] {
		d := _decide(_req(mode, object.remove(_conn, ["dst"])))
		d.allow == true
		d.learn == false
		d.warnings == ["invalid_connection: connection payments/api -> <unknown> tcp/5432 lacks a src, dst or valid port; it cannot be learned or matched"]
	}
}

test_wildcard_rule_does_not_validate_invalid_connection if {
	d := _decide({"mode": "protect", "connection": {"src": "payments/api"}, "learned_rules": [{"src": "*", "dst": "*"}]})
	d.allow == false
	d.learned == false
}

# ---------------------------------------------------------------------------
# Quarantine
# ---------------------------------------------------------------------------

test_quarantined_source_denied_in_every_mode if {
	every mode in ["discover", "monitor", "protect"] {
		inp := object.union(_req(mode, _conn), {"quarantined": ["payments/api"]})
		d := _decide(inp)
		d.allow == false
		d.quarantined == true
		d.learn == false
		d.reasons == ["quarantined_workload: payments/api is quarantined, so all of its traffic is denied (payments/api -> payments/postgres tcp/5432); release the workload to restore it"]
	}
}

test_quarantined_destination_denied if {
	d := _decide(object.union(_req("monitor", _conn), {"quarantined": ["payments/postgres"]}))
	d.allow == false
	_fired(d.reasons) == {"quarantined_workload"}
}

test_quarantine_from_data if {
	d := isolation.decision with input as _req("discover", _conn)
		with data.propolis.isolation.quarantined_workloads as ["payments/postgres", 7]
	d.allow == false
	d.quarantined == true
}

test_quarantine_of_other_workloads_ignored if {
	d := isolation.decision with input as object.union(_req("protect", _conn), {"quarantined": ["payments/worker", ""]})
		with data.propolis.isolation.quarantined_workloads as "payments/api"
	_clean(d)
}

test_quarantine_and_unlearned_both_reported if {
	d := _decide(object.union(_req("protect", _unlearned), {"quarantined": ["payments/api", "internet/203.0.113.7"]}))
	_fired(d.reasons) == {"quarantined_workload", "unlearned_connection"}
	count(d.reasons) == 3
	d.reasons == sort(d.reasons)
}

test_empty_input_denied if {
	d := _decide({})
	d.allow == false
	d.mode == "protect"
	_fired(d.reasons) == {"invalid_connection"}
	_fired(d.warnings) == {"unknown_mode"}
}
