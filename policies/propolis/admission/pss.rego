# Kubernetes Pod Security Standards, baseline and restricted levels, as
# https://kubernetes.io/docs/concepts/security/pod-security-standards/
# defines them: every control of both levels, over the pod-level fields and
# every container list (containers, initContainers, ephemeralContainers).
#
# Rule ids (every message starts with one, then names the field path):
#   baseline    pss_baseline_host_process       HostProcess
#               pss_baseline_host_namespaces    Host Namespaces
#               pss_baseline_privileged         Privileged Containers
#               pss_baseline_capabilities       Capabilities
#               pss_baseline_host_path_volumes  HostPath Volumes
#               pss_baseline_host_ports         Host Ports
#               pss_baseline_apparmor           AppArmor
#               pss_baseline_selinux            SELinux
#               pss_baseline_proc_mount         /proc Mount Type
#               pss_baseline_seccomp            Seccomp
#               pss_baseline_sysctls            Sysctls
#   restricted  pss_restricted_volume_types     Volume Types
#               pss_restricted_privilege_escalation  Privilege Escalation
#               pss_restricted_run_as_non_root  Running as Non-root
#               pss_restricted_run_as_user      Running as Non-root user
#               pss_restricted_seccomp          Seccomp
#               pss_restricted_capabilities     Capabilities
# The restricted level includes every baseline control. As in the standard,
# the Linux-only restricted controls (privilege escalation, seccomp,
# capabilities) do not apply to a pod with spec.os.name: windows.
#
# The level comes from data.propolis.admission.pod_security:
#   {"default": "restricted", "namespaces": {"kube-system": "privileged"}}
# "privileged" applies no control. The host port control's "known list" is
# data.propolis.admission.allowed_host_ports (empty: no host port).
package propolis.admission

import rego.v1

_pss_level_names := {"privileged", "baseline", "restricted"}

# The level of the namespace under review; an unknown level counts as
# restricted (and admission_config_invalid reports it).
pss_level := l if {
	l := _pod_security.namespaces[_namespace]
	l in _pss_level_names
} else := "restricted" if {
	_pod_security.namespaces[_namespace]
} else := l if {
	l := _pod_security.default
	l in _pss_level_names
} else := "restricted"

_baseline if pss_level in {"baseline", "restricted"}

_restricted if pss_level == "restricted"

# The Linux-only restricted controls are skipped for Windows pods.
_linux if not pod_spec.os.name == "windows"

_pss_controls := {
	"pss_baseline_host_process": "baseline, control HostProcess",
	"pss_baseline_host_namespaces": "baseline, control Host Namespaces",
	"pss_baseline_privileged": "baseline, control Privileged Containers",
	"pss_baseline_capabilities": "baseline, control Capabilities",
	"pss_baseline_host_path_volumes": "baseline, control HostPath Volumes",
	"pss_baseline_host_ports": "baseline, control Host Ports",
	"pss_baseline_apparmor": "baseline, control AppArmor",
	"pss_baseline_selinux": "baseline, control SELinux",
	"pss_baseline_proc_mount": "baseline, control /proc Mount Type",
	"pss_baseline_seccomp": "baseline, control Seccomp",
	"pss_baseline_sysctls": "baseline, control Sysctls",
	"pss_restricted_volume_types": "restricted, control Volume Types",
	"pss_restricted_privilege_escalation": "restricted, control Privilege Escalation",
	"pss_restricted_run_as_non_root": "restricted, control Running as Non-root",
	"pss_restricted_run_as_user": "restricted, control Running as Non-root user",
	"pss_restricted_seccomp": "restricted, control Seccomp",
	"pss_restricted_capabilities": "restricted, control Capabilities",
}

_pss_text(rule, text) := sprintf("%s (Pod Security Standards %s)", [text, _pss_controls[rule]])

_pss(rule, c, text) := _violation(rule, split(rule, "_")[1], "deny", c, _pss_text(rule, text))

_pss_pod(rule, text) := _pod_violation(rule, split(rule, "_")[1], "deny", _pss_text(rule, text))

# ---------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------

# HostProcess: windowsOptions.hostProcess undefined or false.
_found contains v if {
	"pss_baseline_host_process" in _on
	_baseline
	pod_spec.securityContext.windowsOptions.hostProcess == true
	v := _pss_pod("pss_baseline_host_process", sprintf(
		"%s sets %s.securityContext.windowsOptions.hostProcess: true (privileged access to the Windows node)",
		[workload, _spec_path],
	))
}

_found contains v if {
	"pss_baseline_host_process" in _on
	_baseline
	some c in _containers
	c.spec.securityContext.windowsOptions.hostProcess == true
	v := _pss("pss_baseline_host_process", c, sprintf(
		"%s sets %s.securityContext.windowsOptions.hostProcess: true (privileged access to the Windows node)",
		[_who(c), c.path],
	))
}

# Host Namespaces: hostNetwork, hostPID, hostIPC undefined or false.
_found contains v if {
	"pss_baseline_host_namespaces" in _on
	_baseline
	some field, value in object.filter(pod_spec, ["hostNetwork", "hostPID", "hostIPC"])
	value == true
	v := _pss_pod("pss_baseline_host_namespaces", sprintf(
		"%s sets %s.%s: true and would share the node's namespace",
		[workload, _spec_path, field],
	))
}

# Privileged Containers: securityContext.privileged undefined or false.
_found contains v if {
	"pss_baseline_privileged" in _on
	_baseline
	some c in _containers
	c.spec.securityContext.privileged == true
	v := _pss("pss_baseline_privileged", c, sprintf(
		"%s sets %s.securityContext.privileged: true (a privileged container disables most isolation)",
		[_who(c), c.path],
	))
}

# Capabilities: capabilities.add only from the baseline list.
_pss_baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

_found contains v if {
	"pss_baseline_capabilities" in _on
	_baseline
	some c in _containers
	added := c.spec.securityContext.capabilities.add
	is_array(added)
	some cap in added
	not cap in _pss_baseline_capabilities
	v := _pss("pss_baseline_capabilities", c, sprintf(
		"%s adds capability %v in %s.securityContext.capabilities.add; allowed: %v",
		[_who(c), cap, c.path, sort(_pss_baseline_capabilities)],
	))
}

# HostPath Volumes: spec.volumes[*].hostPath undefined.
_found contains v if {
	"pss_baseline_host_path_volumes" in _on
	_baseline
	some [i, name, path] in _host_path_volumes
	v := _pss_pod("pss_baseline_host_path_volumes", sprintf(
		"%s uses hostPath volume '%v' (%s.volumes[%d].hostPath, path '%s')",
		[workload, name, _spec_path, i, path],
	))
}

# Host Ports: hostPort undefined, 0, or in the known list.
_found contains v if {
	"pss_baseline_host_ports" in _on
	_baseline
	some [c, j, port] in _host_ports
	v := _pss("pss_baseline_host_ports", c, sprintf(
		"%s binds host port %v (%s.ports[%d].hostPort), which is not in data.propolis.admission.allowed_host_ports",
		[_who(c), port, c.path, j],
	))
}

# AppArmor: appArmorProfile.type undefined, RuntimeDefault or Localhost; the
# container.apparmor.security.beta.kubernetes.io/* annotations undefined,
# runtime/default or localhost/*.
_apparmor_types := {"RuntimeDefault", "Localhost"}

_found contains v if {
	"pss_baseline_apparmor" in _on
	_baseline
	t := pod_spec.securityContext.appArmorProfile.type
	t != null
	not t in _apparmor_types
	v := _pss_pod("pss_baseline_apparmor", sprintf(
		"%s sets %s.securityContext.appArmorProfile.type: %v; allowed: RuntimeDefault, Localhost",
		[workload, _spec_path, t],
	))
}

_found contains v if {
	"pss_baseline_apparmor" in _on
	_baseline
	some c in _containers
	t := c.spec.securityContext.appArmorProfile.type
	t != null
	not t in _apparmor_types
	v := _pss("pss_baseline_apparmor", c, sprintf(
		"%s sets %s.securityContext.appArmorProfile.type: %v; allowed: RuntimeDefault, Localhost",
		[_who(c), c.path, t],
	))
}

_apparmor_annotation_ok(value) if value == "runtime/default"

_apparmor_annotation_ok(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

_found contains v if {
	"pss_baseline_apparmor" in _on
	_baseline
	some key, value in _pod_annotations
	startswith(key, "container.apparmor.security.beta.kubernetes.io/")
	not _apparmor_annotation_ok(value)
	v := _pss_pod("pss_baseline_apparmor", sprintf(
		"%s sets annotation %s.annotations['%s'] to %v; allowed: runtime/default, localhost/*",
		[workload, concat(".", _pod_metadata_path), key, value],
	))
}

# SELinux: seLinuxOptions.type undefined, "", container_t, container_init_t,
# container_kvm_t or container_engine_t; seLinuxOptions.user and .role
# undefined or "".
_selinux_types := {null, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

_selinux_contexts contains [path, who, opts, c] if {
	opts := pod_spec.securityContext.seLinuxOptions
	is_object(opts)
	path := concat("", [_spec_path, ".securityContext.seLinuxOptions"])
	who := workload
	c := {"list": null, "image": null}
}

_selinux_contexts contains [path, _who(c), opts, c] if {
	some c in _containers
	opts := c.spec.securityContext.seLinuxOptions
	is_object(opts)
	path := concat("", [c.path, ".securityContext.seLinuxOptions"])
}

_found contains v if {
	"pss_baseline_selinux" in _on
	_baseline
	some [path, who, opts, c] in _selinux_contexts
	t := object.get(opts, "type", null)
	not t in _selinux_types
	v := _pss("pss_baseline_selinux", c, sprintf(
		"%s sets %s.type: %v; allowed: container_t, container_init_t, container_kvm_t, container_engine_t",
		[who, path, t],
	))
}

_found contains v if {
	"pss_baseline_selinux" in _on
	_baseline
	some [path, who, opts, c] in _selinux_contexts
	some field in ["user", "role"]
	value := object.get(opts, field, null)
	value != null
	value != ""
	v := _pss("pss_baseline_selinux", c, sprintf(
		"%s sets %s.%s: %v; custom SELinux users and roles are not allowed",
		[who, path, field, value],
	))
}

# /proc Mount Type: procMount undefined or Default.
_found contains v if {
	"pss_baseline_proc_mount" in _on
	_baseline
	some c in _containers
	pm := c.spec.securityContext.procMount
	pm != null
	pm != "Default"
	v := _pss("pss_baseline_proc_mount", c, sprintf(
		"%s sets %s.securityContext.procMount: %v; allowed: Default",
		[_who(c), c.path, pm],
	))
}

# Seccomp: seccompProfile.type undefined, RuntimeDefault or Localhost (not
# Unconfined).
_seccomp_types := {"RuntimeDefault", "Localhost"}

_pod_seccomp := t if {
	t := pod_spec.securityContext.seccompProfile.type
} else := null

_found contains v if {
	"pss_baseline_seccomp" in _on
	_baseline
	t := _pod_seccomp
	t != null
	not t in _seccomp_types
	v := _pss_pod("pss_baseline_seccomp", sprintf(
		"%s sets %s.securityContext.seccompProfile.type: %v; allowed: RuntimeDefault, Localhost",
		[workload, _spec_path, t],
	))
}

_found contains v if {
	"pss_baseline_seccomp" in _on
	_baseline
	some c in _containers
	t := c.spec.securityContext.seccompProfile.type
	t != null
	not t in _seccomp_types
	v := _pss("pss_baseline_seccomp", c, sprintf(
		"%s sets %s.securityContext.seccompProfile.type: %v; allowed: RuntimeDefault, Localhost",
		[_who(c), c.path, t],
	))
}

# Sysctls: only the safe set.
_safe_sysctls := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

_sysctl_name(s) := n if {
	is_object(s)
	n := object.get(s, "name", null)
} else := s

_found contains v if {
	"pss_baseline_sysctls" in _on
	_baseline
	sysctls := pod_spec.securityContext.sysctls
	is_array(sysctls)
	some i, s in sysctls
	name := _sysctl_name(s)
	not name in _safe_sysctls
	v := _pss_pod("pss_baseline_sysctls", sprintf(
		"%s sets sysctl %v (%s.securityContext.sysctls[%d]), which is not in the safe set %v",
		[workload, name, _spec_path, i, sort(_safe_sysctls)],
	))
}

# ---------------------------------------------------------------------------
# Restricted
# ---------------------------------------------------------------------------

# Volume Types: only configMap, csi, downwardAPI, emptyDir, ephemeral,
# persistentVolumeClaim, projected, secret (a volume without a source is
# defaulted to emptyDir by the API server).
_restricted_volume_sources := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
	"persistentVolumeClaim", "projected", "secret",
}

_found contains v if {
	"pss_restricted_volume_types" in _on
	_restricted
	volumes := pod_spec.volumes
	is_array(volumes)
	some i, volume in volumes
	is_object(volume)
	some source, value in volume
	source != "name"
	value != null
	not source in _restricted_volume_sources
	v := _pss_pod("pss_restricted_volume_types", sprintf(
		"%s uses a %s volume '%v' (%s.volumes[%d].%s); allowed: %v",
		[workload, source, object.get(volume, "name", ""), _spec_path, i, source, sort(_restricted_volume_sources)],
	))
}

# Privilege Escalation: allowPrivilegeEscalation must be false.
_found contains v if {
	"pss_restricted_privilege_escalation" in _on
	_restricted
	_linux
	some c in _containers
	not c.spec.securityContext.allowPrivilegeEscalation == false
	v := _pss("pss_restricted_privilege_escalation", c, sprintf(
		"%s does not set %s.securityContext.allowPrivilegeEscalation: false",
		[_who(c), c.path],
	))
}

# Running as Non-root: runAsNonRoot true, on the pod (containers may then
# leave it unset) or on every container; false is never allowed.
_found contains v if {
	"pss_restricted_run_as_non_root" in _on
	_restricted
	pod_spec.securityContext.runAsNonRoot == false
	v := _pss_pod("pss_restricted_run_as_non_root", sprintf(
		"%s sets %s.securityContext.runAsNonRoot: false",
		[workload, _spec_path],
	))
}

_found contains v if {
	"pss_restricted_run_as_non_root" in _on
	_restricted
	some c in _containers
	c.spec.securityContext.runAsNonRoot == false
	v := _pss("pss_restricted_run_as_non_root", c, sprintf(
		"%s sets %s.securityContext.runAsNonRoot: false",
		[_who(c), c.path],
	))
}

_found contains v if {
	"pss_restricted_run_as_non_root" in _on
	_restricted
	not pod_spec.securityContext.runAsNonRoot == true
	some c in _containers
	not is_boolean(c.spec.securityContext.runAsNonRoot)
	v := _pss("pss_restricted_run_as_non_root", c, sprintf(
		"%s does not set %s.securityContext.runAsNonRoot: true, nor does the pod (%s.securityContext.runAsNonRoot)",
		[_who(c), c.path, _spec_path],
	))
}

# Running as Non-root user: runAsUser undefined or non-zero.
_found contains v if {
	"pss_restricted_run_as_user" in _on
	_restricted
	pod_spec.securityContext.runAsUser == 0
	v := _pss_pod("pss_restricted_run_as_user", sprintf(
		"%s sets %s.securityContext.runAsUser: 0 (root)",
		[workload, _spec_path],
	))
}

_found contains v if {
	"pss_restricted_run_as_user" in _on
	_restricted
	some c in _containers
	c.spec.securityContext.runAsUser == 0
	v := _pss("pss_restricted_run_as_user", c, sprintf(
		"%s sets %s.securityContext.runAsUser: 0 (root)",
		[_who(c), c.path],
	))
}

# Seccomp: seccompProfile.type RuntimeDefault or Localhost, on the pod
# (containers may then leave it unset) or on every container.
_found contains v if {
	"pss_restricted_seccomp" in _on
	_restricted
	_linux
	t := _pod_seccomp
	t != null
	not t in _seccomp_types
	v := _pss_pod("pss_restricted_seccomp", sprintf(
		"%s sets %s.securityContext.seccompProfile.type: %v; required: RuntimeDefault or Localhost",
		[workload, _spec_path, t],
	))
}

_found contains v if {
	"pss_restricted_seccomp" in _on
	_restricted
	_linux
	some c in _containers
	t := object.get(c.spec, ["securityContext", "seccompProfile", "type"], null)
	t != null
	not t in _seccomp_types
	v := _pss("pss_restricted_seccomp", c, sprintf(
		"%s sets %s.securityContext.seccompProfile.type: %v; required: RuntimeDefault or Localhost",
		[_who(c), c.path, t],
	))
}

_found contains v if {
	"pss_restricted_seccomp" in _on
	_restricted
	_linux
	not _pod_seccomp in _seccomp_types
	some c in _containers
	not c.spec.securityContext.seccompProfile.type != null
	v := _pss("pss_restricted_seccomp", c, sprintf(
		"%s does not set %s.securityContext.seccompProfile.type, nor does the pod (%s.securityContext.seccompProfile.type); required: RuntimeDefault or Localhost",
		[_who(c), c.path, _spec_path],
	))
}

# Capabilities: drop ALL; add nothing but NET_BIND_SERVICE.
_dropping_all contains i if {
	some i, c in _containers
	dropped := c.spec.securityContext.capabilities.drop
	is_array(dropped)
	"ALL" in dropped
}

_found contains v if {
	"pss_restricted_capabilities" in _on
	_restricted
	_linux
	some i, c in _containers
	not i in _dropping_all
	v := _pss("pss_restricted_capabilities", c, sprintf(
		"%s does not drop ALL in %s.securityContext.capabilities.drop",
		[_who(c), c.path],
	))
}

_found contains v if {
	"pss_restricted_capabilities" in _on
	_restricted
	_linux
	some c in _containers
	added := c.spec.securityContext.capabilities.add
	is_array(added)
	some cap in added
	cap != "NET_BIND_SERVICE"
	v := _pss("pss_restricted_capabilities", c, sprintf(
		"%s adds capability %v in %s.securityContext.capabilities.add; only NET_BIND_SERVICE may be added",
		[_who(c), cap, c.path],
	))
}
