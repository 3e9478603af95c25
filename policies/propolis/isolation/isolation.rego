# Network isolation: decides whether one connection between workloads may
# proceed, given the isolation mode of the workload and its learned rules.
#
# Input:
#   {"mode": "discover" | "monitor" | "protect",
#    "connection": {"src": "payments/api", "dst": "payments/postgres",
#                   "port": 5432, "protocol": "tcp"},
#    "learned_rules": [{"src": "payments/api", "dst": "payments/postgres",
#                       "port": 5432, "protocol": "tcp"}, ...],
#    "quarantined": ["payments/worker"]}          (optional)
# In a learned rule, a missing field or "*" matches anything (protocol
# also "any", port also 0); protocols compare case-insensitively.
#
#   discover  every connection is allowed (unlearned ones are to be learned)
#   monitor   every connection is allowed; unlearned ones raise a warning
#   protect   unlearned connections are denied
#   other     treated as protect, with a warning
# A connection from or to a quarantined workload is denied in every mode.
#
# Entry point: data.propolis.isolation.decision
#   {"allow": bool, "reasons": [...], "warnings": [...], "mode": string,
#    "learned": bool, "learn": bool, "quarantined": bool}
#
# Tunables (data.propolis.isolation):
#   quarantined_workloads  workloads whose traffic is denied, in addition
#                          to input.quarantined
package propolis.isolation

import rego.v1

import data.propolis.lib

default _data_quarantined := []

_data_quarantined := v if {
	v := data.propolis.isolation.quarantined_workloads
	is_array(v)
}

_input := input if is_object(input)

else := {}

_modes := {"discover", "monitor", "protect"}

_requested_mode := lib.lower_string(object.get(_input, "mode", ""))

# Effective mode: unknown or missing modes are enforced as protect.
mode := _requested_mode if _requested_mode in _modes

else := "protect"

_connection := lib.get_object(_input, "connection")

_src := lib.get_string(_connection, "src")

_dst := lib.get_string(_connection, "dst")

_protocol := lower(p) if {
	p := lib.get_string(_connection, "protocol")
	p != ""
} else := "tcp"

_port := p if {
	p := object.get(_connection, "port", null)
	is_number(p)
} else := to_number(p) if {
	p := object.get(_connection, "port", null)
	is_string(p)
	regex.match(`^[1-9][0-9]{0,4}$`, p)
}

_valid_connection if {
	_src != ""
	_dst != ""
	_port > 0
	_port <= 65535
}

_flow := sprintf("%s -> %s %s/%v", [_or_unknown(_src), _or_unknown(_dst), _protocol, _or_unknown(object.get(_connection, "port", ""))])

_or_unknown(x) := "<unknown>" if x in {"", null}

else := x

# ---------------------------------------------------------------------------
# Learned rules
# ---------------------------------------------------------------------------

_any_peer(v) if v in {null, "", "*"}

_peer_matches(rule, key, _) if _any_peer(object.get(rule, key, null))

_peer_matches(rule, key, value) if object.get(rule, key, null) == value

_port_matches(rule) if object.get(rule, "port", null) in {null, 0, "*"}

_port_matches(rule) if object.get(rule, "port", null) == _port

_port_matches(rule) if {
	p := object.get(rule, "port", null)
	is_string(p)
	regex.match(`^[1-9][0-9]{0,4}$`, p)
	to_number(p) == _port
}

_protocol_matches(rule) if lib.lower_string(object.get(rule, "protocol", "")) in {"", "*", "any"}

_protocol_matches(rule) if lib.lower_string(object.get(rule, "protocol", "")) == _protocol

_rule_matches(rule) if {
	is_object(rule)
	_peer_matches(rule, "src", _src)
	_peer_matches(rule, "dst", _dst)
	_port_matches(rule)
	_protocol_matches(rule)
}

# The connection matches a learned rule.
learned if {
	_valid_connection
	some rule in lib.get_array(_input, "learned_rules")
	_rule_matches(rule)
}

default learned := false

# ---------------------------------------------------------------------------
# Quarantine
# ---------------------------------------------------------------------------

_quarantine_list := {w |
	some w in array.concat(_data_quarantined, lib.get_array(_input, "quarantined"))
	is_string(w)
	w != ""
}

_quarantined_peers contains peer if {
	some peer in {_src, _dst}
	peer in _quarantine_list
}

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

# quarantined_workload (every mode)
deny contains msg if {
	some peer in _quarantined_peers
	msg := sprintf(
		"quarantined_workload: %s is quarantined, so all of its traffic is denied (%s); release the workload to restore it",
		[peer, _flow],
	)
}

# invalid_connection
deny contains msg if {
	mode == "protect"
	not _valid_connection
	msg := sprintf("invalid_connection: connection %s lacks a src, dst or valid port and is denied in protect mode", [_flow])
}

warn contains msg if {
	mode != "protect"
	not _valid_connection
	msg := sprintf("invalid_connection: connection %s lacks a src, dst or valid port; it cannot be learned or matched", [_flow])
}

# unlearned_connection
deny contains msg if {
	mode == "protect"
	_valid_connection
	not learned
	msg := sprintf("unlearned_connection: %s matches no learned rule and the workload is in protect mode", [_flow])
}

warn contains msg if {
	mode == "monitor"
	_valid_connection
	not learned
	msg := sprintf("unlearned_connection: %s matches no learned rule; allowed in monitor mode, it would be denied in protect mode", [_flow])
}

# unknown_mode
warn contains msg if {
	not _requested_mode in _modes
	msg := sprintf(
		"unknown_mode: isolation mode '%v' is not discover, monitor or protect; enforcing protect",
		[object.get(_input, "mode", null)],
	)
}

# In discover mode, an unlearned connection is to be recorded as a rule.
default learn := false

learn if {
	mode == "discover"
	_valid_connection
	not learned
	count(_quarantined_peers) == 0
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"mode": mode,
	"learned": learned,
	"learn": learn,
	"quarantined": count(_quarantined_peers) > 0,
}
