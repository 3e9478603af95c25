# Runtime detection: judges one runtime event seen by a node sensor.
#
# Input:
#   process exec: {"type": "process_exec",
#                  "proc": {"name": "bash", "cmdline": "bash -i" | ["bash", "-i"],
#                           "pid": 4242},
#                  "container": {"id": "3f2a...", "image": "registry.example.com/app:1"}}
#   network:      {"type": "network_connect",
#                  "connection": {"dst_ip": "203.0.113.7", "dst_port": 3333,
#                                 "protocol": "tcp"},
#                  "proc": {...}, "container": {...}}
# `type` is optional: process rules look at `proc`, network rules at
# `connection`. An event without a container id (or with id "host") comes
# from the node itself; container-only rules skip it.
#
# Entry point: data.propolis.runtime.decision
#   {"allow": bool, "reasons": [...], "severity": "critical"|...|"none",
#    "detections": [{"rule", "severity", "description"}, ...] (most severe first),
#    "response": "isolate_container" | "kill_process" | "alert" | "none"}
#
# Tunables (data.propolis.runtime): shells, shell_allowed_images (image
# repository prefixes where shells are expected), package_managers,
# miner_processes, miner_cmdline_patterns, miner_pool_ports,
# reverse_shell_patterns (RE2 regular expressions; invalid ones are
# skipped), responses ({"<severity>": "<action>"}).
package propolis.runtime

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

_defaults := {
	"shells": ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "csh", "tcsh", "fish"],
	"shell_allowed_images": [],
	"package_managers": [
		"apt", "apt-get", "aptitude", "dpkg", "yum", "dnf", "microdnf", "rpm", "apk",
		"zypper", "pacman", "pip", "pip3", "npm", "gem",
	],
	"miner_processes": [
		"xmrig", "xmr-stak", "minerd", "cpuminer", "cgminer", "bfgminer", "ethminer",
		"t-rex", "nbminer", "lolminer", "ccminer", "nanominer", "phoenixminer",
		"kdevtmpfsi", "kinsing",
	],
	"miner_cmdline_patterns": [`(?i)stratum[0-9]?\+(tcp|ssl|tls)://`, `(?i)--donate-level`],
	"miner_pool_ports": [3333, 4444, 5555, 7777, 9999, 14433, 14444, 45560, 45700],
	"reverse_shell_patterns": [
		`/dev/(tcp|udp)/[^/\s]+/[0-9]+`,
		`(^|[\s/;|&(])(nc|netcat|ncat)(\.[a-z]+)?\s(.*\s)?-[a-zA-Z]*e(\s|$)`,
		`(^|[\s/;|&(])ncat\s(.*\s)?(-[a-zA-Z]*c|--sh-exec|--exec)(\s|$)`,
		`(?i)socat\s.*exec:`,
		`mkfifo\s.*\b(nc|netcat|ncat|openssl)\b`,
		`python[0-9.]*\s+-c\s.*socket.*(pty\.spawn|subprocess|os\.dup2)`,
		`perl\s+-e\s.*socket.*exec`,
		`php\s+-r\s.*fsockopen`,
	],
	"responses": {
		"critical": "isolate_container",
		"high": "kill_process",
		"medium": "alert",
		"low": "alert",
	},
}

default _shells := null

_shells := data.propolis.runtime.shells

default _shell_allowed_images := null

_shell_allowed_images := data.propolis.runtime.shell_allowed_images

default _package_managers := null

_package_managers := data.propolis.runtime.package_managers

default _miner_processes := null

_miner_processes := data.propolis.runtime.miner_processes

default _miner_cmdline_patterns := null

_miner_cmdline_patterns := data.propolis.runtime.miner_cmdline_patterns

default _miner_pool_ports := null

_miner_pool_ports := data.propolis.runtime.miner_pool_ports

default _reverse_shell_patterns := null

_reverse_shell_patterns := data.propolis.runtime.reverse_shell_patterns

default _responses := null

_responses := data.propolis.runtime.responses

# A configured list, or the default when data has none (or not a list).
_setting(configured, name) := configured if is_array(configured)

else := _defaults[name]

_lower_set(items) := {lower(x) | some x in items; is_string(x)}

_shell_names := _lower_set(_setting(_shells, "shells"))

_package_manager_names := _lower_set(_setting(_package_managers, "package_managers"))

_miner_names := _lower_set(_setting(_miner_processes, "miner_processes"))

_shell_image_prefixes := [lower(p) | some p in _setting(_shell_allowed_images, "shell_allowed_images"); is_string(p); p != ""]

_pool_ports := {p | some p in _setting(_miner_pool_ports, "miner_pool_ports"); is_number(p)}

_valid_patterns(items) := [p | some p in items; is_string(p); regex.is_valid(p)]

_miner_patterns := _valid_patterns(_setting(_miner_cmdline_patterns, "miner_cmdline_patterns"))

_reverse_patterns := _valid_patterns(_setting(_reverse_shell_patterns, "reverse_shell_patterns"))

_response_map := object.union(_defaults.responses, _responses) if is_object(_responses)

else := _defaults.responses

# ---------------------------------------------------------------------------
# Event
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_proc := lib.get_object(_input, "proc")

_container := lib.get_object(_input, "container")

_connection := lib.get_object(_input, "connection")

_basename(path) := parts[count(parts) - 1] if {
	parts := split(path, "/")
}

# Process name without directory, lower-cased ("/usr/bin/Bash" -> "bash").
process_name := lower(_basename(lib.get_string(_proc, "name")))

# Command line as one string; an argv array is joined with spaces.
cmdline := concat(" ", [a | some a in c; is_string(a)]) if {
	c := object.get(_proc, "cmdline", "")
	is_array(c)
} else := lib.get_string(_proc, "cmdline")

_container_id := lib.get_string(_container, "id")

_image := lib.get_string(_container, "image")

_in_container if {
	_container_id != ""
	_container_id != "host"
}

# "in container 3f2a9c (image ...)" or "on the host", for messages.
_where := sprintf("in container %s (image %s)", [_container_id, _or_unknown(_image)]) if _in_container

else := "on the host"

_or_unknown("") := "<unknown>"

_or_unknown(s) := s if s != ""

_process := sprintf("process '%s' (cmdline %q)", [process_name, cmdline]) if process_name != ""

else := "an unknown process"

# The container's image is under a shell_allowed_images entry (a registry
# or registry/path prefix, matched on whole path components).
_shell_expected if {
	repository := lower(lib.parse_image(_image).repository)
	some prefix in _shell_image_prefixes
	_under(repository, trim_suffix(prefix, "/"))
}

_under(repository, prefix) if repository == prefix

_under(repository, prefix) if startswith(repository, concat("", [prefix, "/"]))

# ---------------------------------------------------------------------------
# Detections
# ---------------------------------------------------------------------------

# shell_in_container
detections contains {
	"rule": "shell_in_container",
	"severity": "medium",
	"description": sprintf("shell %s started %s; an interactive shell in a running container often means someone is inside it", [_process, _where]),
} if {
	_in_container
	process_name in _shell_names
	not _shell_expected
}

# package_manager_in_container
detections contains {
	"rule": "package_manager_in_container",
	"severity": "high",
	"description": sprintf("package manager %s ran %s; containers must be immutable, rebuild the image instead of installing at runtime", [_process, _where]),
} if {
	_in_container
	process_name in _package_manager_names
}

# crypto_miner (by process name)
detections contains {
	"rule": "crypto_miner",
	"severity": "critical",
	"description": sprintf("known crypto-miner %s ran %s", [_process, _where]),
} if {
	process_name in _miner_names
}

# crypto_miner (by command line)
detections contains {
	"rule": "crypto_miner",
	"severity": "critical",
	"description": sprintf("%s %s has a mining-pool command line (matches pattern %s)", [_process, _where, pattern]),
} if {
	not process_name in _miner_names
	some pattern in _miner_patterns
	regex.match(pattern, cmdline)
}

# reverse_shell
detections contains {
	"rule": "reverse_shell",
	"severity": "critical",
	"description": sprintf("%s %s looks like a reverse shell (matches pattern %s)", [_process, _where, pattern]),
} if {
	some pattern in _reverse_patterns
	regex.match(pattern, cmdline)
}

_dst_port := p if {
	p := object.get(_connection, "dst_port", null)
	is_number(p)
} else := to_number(p) if {
	p := object.get(_connection, "dst_port", null)
	is_string(p)
	regex.match(`^[1-9][0-9]{0,4}$`, p)
}

# miner_pool_connection
detections contains {
	"rule": "miner_pool_connection",
	"severity": "high",
	"description": sprintf("%s %s connected to %s port %v, a common mining-pool port", [
		_process, _where,
		_or_unknown(lib.get_string(_connection, "dst_ip")), _dst_port,
	]),
} if {
	_dst_port in _pool_ports
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

_severity_rank := {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}

# Highest severity among the detections, "none" without detections.
severity := s if {
	count(detections) > 0
	top := max([_severity_rank[d.severity] | some d in detections])
	some s, rank in _severity_rank
	rank == top
} else := "none"

_configured_response := r if {
	r := _response_map[severity]
	is_string(r)
} else := "alert"

# Suggested response for the highest severity ("none" without detections).
# A host process cannot be isolated as a container: its process is killed.
response := "none" if severity == "none"

else := "kill_process" if {
	_configured_response == "isolate_container"
	not _in_container
} else := _configured_response

_ordered := sort([[0 - _severity_rank[d.severity], d.rule, d.description] | some d in detections])

decision := {
	"allow": count(detections) == 0,
	"reasons": sort([sprintf("%s (%s): %s", [d.rule, d.severity, d.description]) | some d in detections]),
	"severity": severity,
	"detections": [{"rule": o[1], "severity": _severity_name(o[0]), "description": o[2]} | some o in _ordered],
	"response": response,
}

_severity_name(negative_rank) := s if {
	some s, rank in _severity_rank
	rank == 0 - negative_rank
}
