# Unit tests of the Pod Security Standards rules (pss.rego): every control of
# the baseline and restricted levels, allowed and denied, on the pod and on
# every container list, plus the per-namespace levels.
package propolis.admission_pss_test

import rego.v1

import data.propolis.admission

# ---------------------------------------------------------------------------
# Fixtures: a pod that satisfies the restricted level
# ---------------------------------------------------------------------------

_sc := {
	"allowPrivilegeEscalation": false,
	"runAsNonRoot": true,
	"runAsUser": 1000,
	"seccompProfile": {"type": "RuntimeDefault"},
	"capabilities": {"drop": ["ALL"]},
}

_container := {"name": "app", "image": "registry.propolis.internal/payments/api:1.4.2", "securityContext": _sc}

_spec := {"containers": [_container]}

_lists := ["containers", "initContainers", "ephemeralContainers"]

_patch(base, patch) := object.union(object.remove(base, [k | some k, _ in patch]), patch)

# The restricted pod with its one container in `list`, securityContext keys
# replaced by `sc_patch`.
_spec_in(list, sc_patch) := {list: [_patch(_container, {"securityContext": _patch(_sc, sc_patch)})]}

_with_container_sc(sc_patch) := _spec_in("containers", sc_patch)

_review(kind, obj, ns) := {"request": {
	"uid": "1",
	"kind": {"group": "", "version": "v1", "kind": kind},
	"operation": "CREATE",
	"namespace": ns,
	"object": obj,
}}

_pod(spec) := _review("Pod", {"kind": "Pod", "metadata": {"name": "api"}, "spec": spec}, "payments")

_pod_meta(meta, spec) := _review("Pod", {"kind": "Pod", "metadata": object.union({"name": "api"}, meta), "spec": spec}, "payments")

# Only the Pod Security Standards rules, at `level` for every namespace.
_at(level, inp) := d if {
	d := admission.decision with input as inp
		with data.propolis.admission.pod_security as {"default": level}
		with data.propolis.admission.enabled_rules as ["pod_security"]
		with data.propolis.admission.allowed_host_ports as []
}

_restricted(inp) := _at("restricted", inp)

_baseline(inp) := _at("baseline", inp)

_rules(d) := {split(m, ":")[0] | some m in d.reasons}

_only(d, rules) if {
	d.allow == false
	_rules(d) == rules
}

_ok(d) if {
	d.allow == true
	d.reasons == []
}

# ---------------------------------------------------------------------------
# Levels
# ---------------------------------------------------------------------------

test_restricted_pod_allowed_in_every_container_list if {
	every list in _lists {
		_ok(_restricted(_pod(_spec_in(list, {}))))
	}
}

test_restricted_pod_allowed_for_every_controller_kind if {
	every kind in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"] {
		_ok(_restricted(_review(kind, {"metadata": {"name": "api"}, "spec": {"template": {"spec": _spec}}}, "payments")))
	}
	_ok(_restricted(_review("CronJob", {"metadata": {"name": "api"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": _spec}}}}}, "payments")))
}

test_violations_found_in_every_controller_kind_with_its_path if {
	bad := _with_container_sc({"privileged": true})
	every kind in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"] {
		d := _baseline(_review(kind, {"metadata": {"name": "api"}, "spec": {"template": {"spec": bad}}}, "payments"))
		_only(d, {"pss_baseline_privileged"})
		contains(d.reasons[0], "spec.template.spec.containers[0].securityContext.privileged: true")
	}
	d := _baseline(_review("CronJob", {"spec": {"jobTemplate": {"spec": {"template": {"spec": bad}}}}}, "payments"))
	_only(d, {"pss_baseline_privileged"})
	contains(d.reasons[0], "spec.jobTemplate.spec.template.spec.containers[0]")
}

test_privileged_level_checks_nothing if {
	spec := object.union(_with_container_sc({"privileged": true, "runAsUser": 0}), {"hostPID": true})
	_ok(_at("privileged", _pod(spec)))
}

test_baseline_level_skips_restricted_controls if {
	# The minimally specified pod is baseline, not restricted.
	spec := {"containers": [{"name": "app", "image": "registry.propolis.internal/payments/api:1.4.2"}]}
	_ok(_baseline(_pod(spec)))
	_only(_restricted(_pod(spec)), {
		"pss_restricted_privilege_escalation", "pss_restricted_run_as_non_root",
		"pss_restricted_seccomp", "pss_restricted_capabilities",
	})
}

_in_namespace(ns) := d if {
	d := admission.decision with input as _review("Pod", {"metadata": {"name": "api"}, "spec": _with_container_sc({"runAsUser": 0})}, ns)
		with data.propolis.admission.pod_security as {"default": "restricted", "namespaces": {"kube-system": "privileged", "legacy": "baseline"}}
		with data.propolis.admission.enabled_rules as ["pod_security"]
}

test_level_per_namespace if {
	_only(_in_namespace("payments"), {"pss_restricted_run_as_user"})
	_ok(_in_namespace("legacy"))
	_ok(_in_namespace("kube-system"))
}

test_level_defaults_to_restricted if {
	d := admission.decision with input as _pod(_with_container_sc({"runAsUser": 0}))
		with data.propolis.admission.pod_security as null
		with data.propolis.admission.enabled_rules as ["pod_security"]
	_only(d, {"pss_restricted_run_as_user"})
	admission.pss_level == "restricted" with input as _pod(_spec)
		with data.propolis.admission.pod_security as null
}

test_namespace_from_object_metadata if {
	inp := {"request": {"kind": {"kind": "Pod"}, "object": {"metadata": {"name": "api", "namespace": "legacy"}, "spec": _with_container_sc({"runAsUser": 0})}}}
	d := admission.decision with input as inp
		with data.propolis.admission.pod_security as {"default": "restricted", "namespaces": {"legacy": "baseline"}}
		with data.propolis.admission.enabled_rules as ["pod_security"]
	_ok(d)
}

test_unknown_level_is_a_configuration_error_and_counts_as_restricted if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.pod_security as {"default": "strict", "namespaces": {"payments": 7}}
	_only(d, {"admission_config_invalid"})
	count(d.reasons) == 2
	admission.pss_level == "restricted" with input as _pod(_spec)
		with data.propolis.admission.pod_security as {"default": "strict", "namespaces": {"payments": 7}}
}

test_violations_carry_rule_level_and_effect if {
	d := _restricted(_pod(_with_container_sc({"privileged": true, "runAsUser": 0})))
	{[v.rule, v.level, v.effect] | some v in d.violations} == {
		["pss_baseline_privileged", "baseline", "deny"],
		["pss_restricted_run_as_user", "restricted", "deny"],
	}
	every v in d.violations {
		startswith(v.message, concat("", [v.rule, ": "]))
		contains(v.message, "(Pod Security Standards ")
	}
}

# ---------------------------------------------------------------------------
# Baseline: HostProcess
# ---------------------------------------------------------------------------

test_host_process_on_pod_denied if {
	spec := object.union(_spec, {"securityContext": {"windowsOptions": {"hostProcess": true}}})
	d := _baseline(_pod(spec))
	_only(d, {"pss_baseline_host_process"})
	contains(d.reasons[0], "spec.securityContext.windowsOptions.hostProcess: true")
}

test_host_process_on_every_container_list_denied if {
	every list in _lists {
		d := _baseline(_pod(_spec_in(list, {"windowsOptions": {"hostProcess": true}})))
		_only(d, {"pss_baseline_host_process"})
		contains(d.reasons[0], sprintf("spec.%s[0].securityContext.windowsOptions.hostProcess", [list]))
	}
}

test_host_process_false_allowed if {
	spec := object.union(_with_container_sc({"windowsOptions": {"hostProcess": false}}), {"securityContext": {"windowsOptions": {"hostProcess": false}}})
	_ok(_baseline(_pod(spec)))
}

# ---------------------------------------------------------------------------
# Baseline: Host Namespaces
# ---------------------------------------------------------------------------

test_host_namespaces_denied if {
	every field in ["hostNetwork", "hostPID", "hostIPC"] {
		d := _baseline(_pod(object.union(_spec, {field: true})))
		_only(d, {"pss_baseline_host_namespaces"})
		contains(d.reasons[0], sprintf("spec.%s: true", [field]))
	}
}

test_host_namespaces_false_allowed if {
	_ok(_baseline(_pod(object.union(_spec, {"hostNetwork": false, "hostPID": false, "hostIPC": false}))))
}

# ---------------------------------------------------------------------------
# Baseline: Privileged Containers
# ---------------------------------------------------------------------------

test_privileged_denied_in_every_container_list if {
	every list in _lists {
		d := _baseline(_pod(_spec_in(list, {"privileged": true})))
		_only(d, {"pss_baseline_privileged"})
		contains(d.reasons[0], sprintf("spec.%s[0].securityContext.privileged: true", [list]))
	}
}

test_privileged_false_allowed if {
	_ok(_restricted(_pod(_with_container_sc({"privileged": false}))))
}

# ---------------------------------------------------------------------------
# Baseline: Capabilities
# ---------------------------------------------------------------------------

test_baseline_capabilities_allowed if {
	caps := [
		"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
	]
	_ok(_baseline(_pod(_with_container_sc({"capabilities": {"add": caps}}))))
}

test_capability_outside_baseline_denied_in_every_container_list if {
	every list in _lists {
		every cap in ["NET_RAW", "SYS_ADMIN", "NET_ADMIN", "CAP_CHOWN"] {
			d := _baseline(_pod(_spec_in(list, {"capabilities": {"add": [cap]}})))
			_only(d, {"pss_baseline_capabilities"})
			contains(d.reasons[0], sprintf("adds capability %s in spec.%s[0].securityContext.capabilities.add", [cap, list]))
		}
	}
}

# ---------------------------------------------------------------------------
# Baseline: HostPath Volumes
# ---------------------------------------------------------------------------

test_host_path_volume_denied if {
	spec := object.union(_spec, {"volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]})
	d := _baseline(_pod(spec))
	_only(d, {"pss_baseline_host_path_volumes"})
	contains(d.reasons[0], "'sock' (spec.volumes[1].hostPath, path '/var/run/docker.sock')")
}

test_volumes_without_host_path_allowed if {
	spec := object.union(_spec, {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "nfs", "nfs": {"server": "s", "path": "/"}}]})
	_ok(_baseline(_pod(spec)))
}

# ---------------------------------------------------------------------------
# Baseline: Host Ports
# ---------------------------------------------------------------------------

test_host_port_denied_in_every_container_list if {
	every list in _lists {
		spec := {list: [object.union(_container, {"ports": [{"containerPort": 8080}, {"containerPort": 8443, "hostPort": 443}]})]}
		d := _baseline(_pod(spec))
		_only(d, {"pss_baseline_host_ports"})
		contains(d.reasons[0], sprintf("host port 443 (spec.%s[0].ports[1].hostPort)", [list]))
	}
}

test_host_port_zero_or_unset_allowed if {
	spec := {"containers": [object.union(_container, {"ports": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 81}]})]}
	_ok(_baseline(_pod(spec)))
}

test_host_port_in_known_list_allowed if {
	spec := {"containers": [object.union(_container, {"ports": [{"hostPort": 8080}]})]}
	d := admission.decision with input as _pod(spec)
		with data.propolis.admission.pod_security as {"default": "baseline"}
		with data.propolis.admission.enabled_rules as ["pod_security"]
		with data.propolis.admission.allowed_host_ports as [{"min": 8000, "max": 8100}]
	_ok(d)
}

# ---------------------------------------------------------------------------
# Baseline: AppArmor
# ---------------------------------------------------------------------------

test_apparmor_profiles_allowed if {
	every t in ["RuntimeDefault", "Localhost"] {
		spec := object.union(_with_container_sc({"appArmorProfile": {"type": t}}), {"securityContext": {"appArmorProfile": {"type": t}}})
		_ok(_baseline(_pod(spec)))
	}
	annotations := {
		"container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/side": "localhost/my-profile",
	}
	_ok(_baseline(_pod_meta({"annotations": annotations}, _spec)))
}

test_apparmor_unconfined_on_pod_denied if {
	d := _baseline(_pod(object.union(_spec, {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}})))
	_only(d, {"pss_baseline_apparmor"})
	contains(d.reasons[0], "spec.securityContext.appArmorProfile.type: Unconfined")
}

test_apparmor_unconfined_on_every_container_list_denied if {
	every list in _lists {
		d := _baseline(_pod(_spec_in(list, {"appArmorProfile": {"type": "Unconfined"}})))
		_only(d, {"pss_baseline_apparmor"})
	}
}

test_apparmor_unconfined_annotation_denied if {
	d := _baseline(_pod_meta({"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}, _spec))
	_only(d, {"pss_baseline_apparmor"})
	contains(d.reasons[0], "metadata.annotations['container.apparmor.security.beta.kubernetes.io/app'] to unconfined")
}

test_apparmor_annotation_on_pod_template_denied if {
	obj := {"metadata": {"name": "api"}, "spec": {"template": {
		"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
		"spec": _spec,
	}}}
	d := _baseline(_review("Deployment", obj, "payments"))
	_only(d, {"pss_baseline_apparmor"})
	contains(d.reasons[0], "spec.template.metadata.annotations[")
}

# ---------------------------------------------------------------------------
# Baseline: SELinux
# ---------------------------------------------------------------------------

test_selinux_allowed_types if {
	every t in ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"] {
		spec := object.union(_with_container_sc({"seLinuxOptions": {"type": t, "level": "s0:c123,c456"}}), {"securityContext": {"seLinuxOptions": {"type": t}}})
		_ok(_baseline(_pod(spec)))
	}
}

test_selinux_type_denied_on_pod_and_every_container_list if {
	d := _baseline(_pod(object.union(_spec, {"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})))
	_only(d, {"pss_baseline_selinux"})
	contains(d.reasons[0], "spec.securityContext.seLinuxOptions.type: spc_t")
	every list in _lists {
		dc := _baseline(_pod(_spec_in(list, {"seLinuxOptions": {"type": "spc_t"}})))
		_only(dc, {"pss_baseline_selinux"})
		contains(dc.reasons[0], sprintf("spec.%s[0].securityContext.seLinuxOptions.type", [list]))
	}
}

test_selinux_user_and_role_denied if {
	d := _baseline(_pod(_with_container_sc({"seLinuxOptions": {"user": "system_u", "role": "system_r"}})))
	_only(d, {"pss_baseline_selinux"})
	count(d.reasons) == 2
	_ok(_baseline(_pod(_with_container_sc({"seLinuxOptions": {"user": "", "role": ""}}))))
}

# ---------------------------------------------------------------------------
# Baseline: /proc Mount Type
# ---------------------------------------------------------------------------

test_proc_mount_default_allowed if {
	_ok(_restricted(_pod(_with_container_sc({"procMount": "Default"}))))
}

test_proc_mount_unmasked_denied_in_every_container_list if {
	every list in _lists {
		d := _baseline(_pod(_spec_in(list, {"procMount": "Unmasked"})))
		_only(d, {"pss_baseline_proc_mount"})
		contains(d.reasons[0], sprintf("spec.%s[0].securityContext.procMount: Unmasked", [list]))
	}
}

# ---------------------------------------------------------------------------
# Baseline: Seccomp
# ---------------------------------------------------------------------------

test_seccomp_unconfined_denied_on_pod_and_every_container_list if {
	d := _baseline(_pod(object.union(_spec, {"securityContext": {"seccompProfile": {"type": "Unconfined"}}})))
	_only(d, {"pss_baseline_seccomp"})
	every list in _lists {
		_only(_baseline(_pod(_spec_in(list, {"seccompProfile": {"type": "Unconfined"}}))), {"pss_baseline_seccomp"})
	}
}

test_seccomp_unset_or_runtime_default_allowed_at_baseline if {
	_ok(_baseline(_pod({"containers": [{"name": "app", "image": "registry.propolis.internal/a:1"}]})))
	_ok(_baseline(_pod(_with_container_sc({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}))))
}

# ---------------------------------------------------------------------------
# Baseline: Sysctls
# ---------------------------------------------------------------------------

test_safe_sysctls_allowed if {
	names := [
		"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
		"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
		"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes",
	]
	sysctls := [{"name": n, "value": "1"} | some n in names]
	_ok(_baseline(_pod(object.union(_spec, {"securityContext": {"sysctls": sysctls}}))))
}

test_unsafe_sysctl_denied if {
	spec := object.union(_spec, {"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": "kernel.msgmax", "value": "65536"}]}})
	d := _baseline(_pod(spec))
	_only(d, {"pss_baseline_sysctls"})
	contains(d.reasons[0], "sysctl kernel.msgmax (spec.securityContext.sysctls[1])")
}

# ---------------------------------------------------------------------------
# Restricted: Volume Types
# ---------------------------------------------------------------------------

test_restricted_volume_types_allowed if {
	volumes := [
		{"name": "a", "configMap": {"name": "c"}},
		{"name": "b", "csi": {"driver": "d"}},
		{"name": "c", "downwardAPI": {"items": []}},
		{"name": "d", "emptyDir": {}},
		{"name": "e", "ephemeral": {"volumeClaimTemplate": {}}},
		{"name": "f", "persistentVolumeClaim": {"claimName": "p"}},
		{"name": "g", "projected": {"sources": []}},
		{"name": "h", "secret": {"secretName": "s"}},
		{"name": "i"},
	]
	_ok(_restricted(_pod(object.union(_spec, {"volumes": volumes}))))
}

test_other_volume_types_denied_at_restricted_only if {
	every source in ["nfs", "gitRepo", "iscsi", "rbd", "cephfs", "awsElasticBlockStore", "flexVolume"] {
		spec := object.union(_spec, {"volumes": [{"name": "v", source: {"x": "y"}}]})
		d := _restricted(_pod(spec))
		_only(d, {"pss_restricted_volume_types"})
		contains(d.reasons[0], sprintf("(spec.volumes[0].%s)", [source]))
		_ok(_baseline(_pod(spec)))
	}
}

test_host_path_fails_both_volume_controls if {
	d := _restricted(_pod(object.union(_spec, {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]})))
	_only(d, {"pss_baseline_host_path_volumes", "pss_restricted_volume_types"})
}

# ---------------------------------------------------------------------------
# Restricted: Privilege Escalation
# ---------------------------------------------------------------------------

test_privilege_escalation_must_be_false_in_every_container_list if {
	every list in _lists {
		every value in [true, null] {
			d := _restricted(_pod(_spec_in(list, {"allowPrivilegeEscalation": value})))
			_only(d, {"pss_restricted_privilege_escalation"})
			contains(d.reasons[0], sprintf("spec.%s[0].securityContext.allowPrivilegeEscalation: false", [list]))
		}
	}
}

test_privilege_escalation_not_checked_at_baseline if {
	_ok(_baseline(_pod(_with_container_sc({"allowPrivilegeEscalation": true}))))
}

# ---------------------------------------------------------------------------
# Restricted: Running as Non-root
# ---------------------------------------------------------------------------

test_run_as_non_root_on_pod_covers_containers if {
	c := object.remove(_container, ["securityContext"])
	sc := object.remove(_sc, ["runAsNonRoot"])
	spec := {"securityContext": {"runAsNonRoot": true}, "containers": [object.union(c, {"securityContext": sc})]}
	_ok(_restricted(_pod(spec)))
}

test_run_as_non_root_unset_denied_in_every_container_list if {
	every list in _lists {
		d := _restricted(_pod(_spec_in(list, {"runAsNonRoot": null})))
		_only(d, {"pss_restricted_run_as_non_root"})
		contains(d.reasons[0], sprintf("does not set spec.%s[0].securityContext.runAsNonRoot: true", [list]))
	}
}

test_run_as_non_root_false_denied_even_with_pod_true if {
	spec := object.union(_with_container_sc({"runAsNonRoot": false}), {"securityContext": {"runAsNonRoot": true}})
	d := _restricted(_pod(spec))
	_only(d, {"pss_restricted_run_as_non_root"})
	contains(d.reasons[0], "spec.containers[0].securityContext.runAsNonRoot: false")
}

test_run_as_non_root_false_on_pod_denied if {
	spec := object.union(_spec, {"securityContext": {"runAsNonRoot": false}})
	d := _restricted(_pod(spec))
	_only(d, {"pss_restricted_run_as_non_root"})
	contains(d.reasons[0], "sets spec.securityContext.runAsNonRoot: false")
}

# ---------------------------------------------------------------------------
# Restricted: Running as Non-root user
# ---------------------------------------------------------------------------

test_run_as_user_zero_denied_on_pod_and_every_container_list if {
	d := _restricted(_pod(object.union(_spec, {"securityContext": {"runAsUser": 0}})))
	_only(d, {"pss_restricted_run_as_user"})
	contains(d.reasons[0], "spec.securityContext.runAsUser: 0")
	every list in _lists {
		_only(_restricted(_pod(_spec_in(list, {"runAsUser": 0}))), {"pss_restricted_run_as_user"})
	}
}

test_run_as_user_non_zero_or_unset_allowed if {
	_ok(_restricted(_pod(_with_container_sc({"runAsUser": 65534}))))
	_ok(_restricted(_pod(_with_container_sc({"runAsUser": null}))))
	_ok(_baseline(_pod(_with_container_sc({"runAsUser": 0}))))
}

# ---------------------------------------------------------------------------
# Restricted: Seccomp
# ---------------------------------------------------------------------------

test_seccomp_on_pod_covers_containers if {
	every t in ["RuntimeDefault", "Localhost"] {
		spec := object.union(_with_container_sc({"seccompProfile": null}), {"securityContext": {"seccompProfile": {"type": t}}})
		_ok(_restricted(_pod(spec)))
	}
}

test_seccomp_unset_denied_in_every_container_list if {
	every list in _lists {
		d := _restricted(_pod(_spec_in(list, {"seccompProfile": null})))
		_only(d, {"pss_restricted_seccomp"})
		contains(d.reasons[0], sprintf("does not set spec.%s[0].securityContext.seccompProfile.type", [list]))
	}
}

test_seccomp_unconfined_container_denied_despite_pod_profile if {
	spec := object.union(_with_container_sc({"seccompProfile": {"type": "Unconfined"}}), {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
	d := _restricted(_pod(spec))
	_only(d, {"pss_baseline_seccomp", "pss_restricted_seccomp"})
}

test_seccomp_unconfined_pod_denied if {
	spec := object.union(_spec, {"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	d := _restricted(_pod(spec))
	_only(d, {"pss_baseline_seccomp", "pss_restricted_seccomp"})
}

# ---------------------------------------------------------------------------
# Restricted: Capabilities
# ---------------------------------------------------------------------------

test_capabilities_must_drop_all_in_every_container_list if {
	every list in _lists {
		every drop in [null, [], ["NET_RAW"], ["all"]] {
			d := _restricted(_pod(_spec_in(list, {"capabilities": {"drop": drop}})))
			_only(d, {"pss_restricted_capabilities"})
			contains(d.reasons[0], sprintf("does not drop ALL in spec.%s[0].securityContext.capabilities.drop", [list]))
		}
	}
}

test_capabilities_add_only_net_bind_service if {
	_ok(_restricted(_pod(_with_container_sc({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))))
	d := _restricted(_pod(_with_container_sc({"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}})))
	_only(d, {"pss_restricted_capabilities"})
	contains(d.reasons[0], "adds capability CHOWN")
	_ok(_baseline(_pod(_with_container_sc({"capabilities": {"add": ["CHOWN"]}}))))
}

# ---------------------------------------------------------------------------
# Windows pods: the Linux-only restricted controls do not apply
# ---------------------------------------------------------------------------

test_windows_pod_skips_linux_only_controls if {
	spec := {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app", "image": "registry.propolis.internal/win:1"}]}
	_ok(_restricted(_pod(spec)))
	linux := object.union(spec, {"os": {"name": "linux"}})
	_only(_restricted(_pod(linux)), {"pss_restricted_privilege_escalation", "pss_restricted_seccomp", "pss_restricted_capabilities"})
}

# ---------------------------------------------------------------------------
# Malformed fields never raise an error
# ---------------------------------------------------------------------------

test_malformed_security_fields_do_not_error if {
	spec := {
		"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced"}], "seLinuxOptions": "y", "seccompProfile": 3},
		"volumes": [null, 1, {"name": "v", "emptyDir": null}],
		"containers": [object.union(_container, {"ports": "p", "securityContext": object.union(_sc, {"capabilities": {"drop": ["ALL"], "add": "CHOWN"}})})],
	}
	d := _restricted(_pod(spec))
	d.allow == true
}

test_malformed_sysctls_do_not_error if {
	d := _baseline(_pod(object.union(_spec, {"securityContext": {"sysctls": [1, null, {"value": "1"}]}})))
	_only(d, {"pss_baseline_sysctls"})
	count(d.reasons) == 3
	_ok(_baseline(_pod(object.union(_spec, {"securityContext": {"sysctls": "x"}}))))
}
