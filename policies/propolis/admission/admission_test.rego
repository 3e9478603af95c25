package propolis.admission_test

import rego.v1

import data.propolis.admission

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

_registries := ["registry.propolis.internal", "ghcr.io/propolis"]

_image := "registry.propolis.internal/payments/api:1.4.2"

_container := {
	"name": "app",
	"image": _image,
	"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
	"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true},
}

_pod_spec := {
	"automountServiceAccountToken": false,
	"containers": [_container],
}

# Shallow merge: the keys of `patch` replace those of `base`.
_patch(base, patch) := object.union(object.remove(base, [k | some k, _ in patch]), patch)

# A pod spec whose only container is _container with top-level keys replaced.
_spec_with(patch) := _patch(_pod_spec, {"containers": [_patch(_container, patch)]})

_review(kind, obj) := {"request": {
	"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
	"kind": {"group": "", "version": "v1", "kind": kind},
	"operation": "CREATE",
	"namespace": "payments",
	"object": obj,
}}

_pod(spec) := _review("Pod", {"kind": "Pod", "metadata": {"name": "api"}, "spec": spec})

# Evaluates the decision with pinned tunables, independent of data.json: the
# Propolis and PSP-style rules of admission.rego, every one enabled, without
# the Pod Security Standards (tested in pss_test.rego). Other tunables can be
# set around a call: `_decide(inp) with data.propolis.admission.x as y`.
_decide(inp) := d if {
	d := admission.decision with input as inp
		with data.propolis.admission.pod_security as {"default": "privileged"}
		with data.propolis.admission.disabled_rules as []
		with data.propolis.admission.allowed_registries as _registries
		with data.propolis.admission.allowed_capabilities as ["NET_BIND_SERVICE"]
		with data.propolis.admission.required_limits as ["cpu", "memory"]
}

_no_pss := {"default": "privileged"}

_rule_names(messages) := {split(m, ":")[0] | some m in messages}

_denied_by(d, rules) if {
	d.allow == false
	_rule_names(d.reasons) == rules
}

_warned_by(d, rules) if _rule_names(d.warnings) == rules

_clean(d) if {
	d.allow == true
	d.reasons == []
	d.warnings == []
}

# ---------------------------------------------------------------------------
# Happy paths and decision shape
# ---------------------------------------------------------------------------

test_compliant_pod_allowed if {
	d := _decide(_pod(_pod_spec))
	_clean(d)
	d.kind == "Pod"
	d.workload == "Pod payments/api"
}

test_compliant_templates_allowed_for_every_controller_kind if {
	every kind in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"] {
		_clean(_decide(_review(kind, {"metadata": {"name": "api"}, "spec": {"template": {"spec": _pod_spec}}})))
	}
	_clean(_decide(_review("CronJob", {"metadata": {"name": "api"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": _pod_spec}}}}})))
}

test_violations_found_in_every_controller_kind if {
	bad := _spec_with({"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})
	every kind in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"] {
		_denied_by(_decide(_review(kind, {"spec": {"template": {"spec": bad}}})), {"privileged_container"})
	}
	_denied_by(_decide(_review("CronJob", {"spec": {"jobTemplate": {"spec": {"template": {"spec": bad}}}}})), {"privileged_container"})
}

test_kind_falls_back_to_object_kind if {
	inp := {"request": {"namespace": "payments", "object": {
		"kind": "Deployment", "metadata": {"name": "api"},
		"spec": {"template": {"spec": _spec_with({"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})}},
	}}}
	d := _decide(inp)
	_denied_by(d, {"privileged_container"})
	d.kind == "Deployment"
}

test_reasons_are_sorted_and_name_their_rule if {
	spec := object.union(
		_spec_with({"image": "nginx", "securityContext": {"privileged": true}}),
		{"hostPID": true},
	)
	d := _decide(_pod(spec))
	d.reasons == sort(d.reasons)
	d.warnings == sort(d.warnings)
	_rule_names(d.reasons) == {
		"host_namespace", "image_registry_not_allowed", "image_tag_not_pinned",
		"privilege_escalation_allowed", "privileged_container",
	}
	container_reasons := [r | some r in d.reasons; not startswith(r, "host_namespace")]
	count(container_reasons) == 4
	every r in container_reasons {
		contains(r, "container 'app' of Pod payments/api")
	}
	_warned_by(d, {"run_as_non_root"})
}

# ---------------------------------------------------------------------------
# Malformed, unsupported and empty requests
# ---------------------------------------------------------------------------

test_missing_request_denied if {
	d := _decide({})
	_denied_by(d, {"malformed_request"})
	d.warnings == []
	d.workload == "<unnamed>"
}

test_request_not_an_object_denied if {
	_denied_by(_decide({"request": "oops"}), {"malformed_request"})
}

test_delete_without_object_allowed if {
	_clean(_decide({"request": {"kind": {"kind": "Pod"}, "operation": "DELETE", "namespace": "payments", "name": "api", "object": null}}))
}

test_unsupported_kind_not_checked if {
	_clean(_decide(_review("ConfigMap", {"metadata": {"name": "cfg"}, "data": {"k": "v"}})))
}

test_malformed_container_lists_do_not_error if {
	spec := {
		"automountServiceAccountToken": false,
		"containers": [null, "app", 3],
		"initContainers": null,
		"ephemeralContainers": {"not": "a list"},
		"volumes": "none",
	}
	_clean(_decide(_pod(spec)))
}

test_generated_name_used_when_name_missing if {
	d := _decide(_review("Pod", {"metadata": {"generateName": "api-"}, "spec": _pod_spec}))
	d.workload == "Pod payments/api-<generated>"
}

# ---------------------------------------------------------------------------
# privileged_container
# ---------------------------------------------------------------------------

test_privileged_container_denied if {
	d := _decide(_pod(_spec_with({"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})))
	_denied_by(d, {"privileged_container"})
	d.reasons == ["privileged_container: container 'app' of Pod payments/api runs privileged (full access to the node); set spec.containers[0].securityContext.privileged to false"]
}

test_privileged_false_allowed if {
	_clean(_decide(_pod(_spec_with({"securityContext": {"privileged": false, "allowPrivilegeEscalation": false, "runAsNonRoot": true}}))))
}

test_privileged_init_container_denied if {
	init := object.union(_container, {"name": "setup", "securityContext": {"privileged": true}})
	d := _decide(_pod(object.union(_pod_spec, {"initContainers": [init]})))
	_denied_by(d, {"privileged_container"})
	contains(d.reasons[0], "init container 'setup'")
}

test_privileged_ephemeral_container_denied if {
	debug := {"name": "debugger", "image": "registry.propolis.internal/tools/debug:2.0", "securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}}
	d := _decide(_pod(object.union(_pod_spec, {"ephemeralContainers": [debug]})))
	_denied_by(d, {"privileged_container"})
	contains(d.reasons[0], "ephemeral container 'debugger'")
	d.warnings == []
}

# ---------------------------------------------------------------------------
# privilege_escalation_allowed
# ---------------------------------------------------------------------------

test_privilege_escalation_unset_denied if {
	spec := {"automountServiceAccountToken": false, "containers": [object.remove(_container, ["securityContext"])]}
	d := _decide(_pod(object.union(spec, {"securityContext": {"runAsNonRoot": true}})))
	_denied_by(d, {"privilege_escalation_allowed"})
	d.warnings == []
}

test_privilege_escalation_true_denied if {
	_denied_by(
		_decide(_pod(_spec_with({"securityContext": {"allowPrivilegeEscalation": true, "runAsNonRoot": true}}))),
		{"privilege_escalation_allowed"},
	)
}

test_privilege_escalation_string_false_denied if {
	_denied_by(
		_decide(_pod(_spec_with({"securityContext": {"allowPrivilegeEscalation": "false", "runAsNonRoot": true}}))),
		{"privilege_escalation_allowed"},
	)
}

# ---------------------------------------------------------------------------
# host_namespace
# ---------------------------------------------------------------------------

test_host_namespaces_denied if {
	every field in ["hostNetwork", "hostPID", "hostIPC"] {
		d := _decide(_pod(object.union(_pod_spec, {field: true})))
		_denied_by(d, {"host_namespace"})
		contains(d.reasons[0], sprintf("sets spec.%s: true", [field]))
	}
}

test_all_host_namespaces_give_three_reasons if {
	d := _decide(_pod(object.union(_pod_spec, {"hostNetwork": true, "hostPID": true, "hostIPC": true})))
	count(d.reasons) == 3
}

test_host_namespaces_false_allowed if {
	_clean(_decide(_pod(object.union(_pod_spec, {"hostNetwork": false, "hostPID": false, "hostIPC": false}))))
}

# ---------------------------------------------------------------------------
# host_path_volume
# ---------------------------------------------------------------------------

test_host_path_volume_denied if {
	spec := object.union(_pod_spec, {"volumes": [
		{"name": "scratch", "emptyDir": {}},
		{"name": "docker-sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}},
	]})
	d := _decide(_pod(spec))
	_denied_by(d, {"host_path_volume"})
	contains(d.reasons[0], "'docker-sock' (spec.volumes[1].hostPath.path '/var/run/docker.sock')")
}

test_non_host_path_volumes_allowed if {
	spec := object.union(_pod_spec, {"volumes": [
		{"name": "scratch", "emptyDir": {}},
		{"name": "cfg", "configMap": {"name": "api"}},
	]})
	_clean(_decide(_pod(spec)))
}

# ---------------------------------------------------------------------------
# capability_not_allowed
# ---------------------------------------------------------------------------

_caps(add) := _spec_with({"securityContext": {
	"allowPrivilegeEscalation": false,
	"runAsNonRoot": true,
	"capabilities": {"drop": ["ALL"], "add": add},
}})

test_capability_not_allowed_denied if {
	d := _decide(_pod(_caps(["NET_BIND_SERVICE", "SYS_ADMIN"])))
	_denied_by(d, {"capability_not_allowed"})
	count(d.reasons) == 1
	contains(d.reasons[0], "adds capability SYS_ADMIN")
}

test_capability_all_denied if {
	_denied_by(_decide(_pod(_caps(["ALL"]))), {"capability_not_allowed"})
}

test_allowed_capability_normalised if {
	_clean(_decide(_pod(_caps(["cap_net_bind_service", "NET_BIND_SERVICE"]))))
}

test_non_string_capability_denied if {
	d := _decide(_pod(_caps([7])))
	_denied_by(d, {"capability_not_allowed"})
	contains(d.reasons[0], "adds capability 7")
}

test_allowed_capabilities_come_from_data if {
	d := admission.decision with input as _pod(_caps(["SYS_PTRACE"]))
		with data.propolis.admission.pod_security as _no_pss
		with data.propolis.admission.disabled_rules as []
		with data.propolis.admission.allowed_registries as _registries
		with data.propolis.admission.allowed_capabilities as ["NET_BIND_SERVICE", "CAP_SYS_PTRACE"]
	d.allow == true
}

# ---------------------------------------------------------------------------
# image_registry_not_allowed / image_reference_invalid
# ---------------------------------------------------------------------------

test_registry_not_allowed_denied if {
	d := _decide(_pod(_spec_with({"image": "docker.io/library/nginx:1.27"})))
	_denied_by(d, {"image_registry_not_allowed"})
	contains(d.reasons[0], "from registry 'docker.io'")
}

test_registry_path_prefix_allowed if {
	_clean(_decide(_pod(_spec_with({"image": "ghcr.io/propolis/agent:0.3.1"}))))
}

test_registry_path_prefix_is_not_a_string_prefix if {
	_denied_by(_decide(_pod(_spec_with({"image": "ghcr.io/propolis-evil/agent:0.3.1"}))), {"image_registry_not_allowed"})
	_denied_by(_decide(_pod(_spec_with({"image": "ghcr.io/other/agent:0.3.1"}))), {"image_registry_not_allowed"})
}

test_registry_match_is_case_insensitive if {
	_clean(_decide(_pod(_spec_with({"image": "Registry.Propolis.Internal/payments/api:1.4.2"}))))
}

test_registry_lookalike_host_denied if {
	_denied_by(
		_decide(_pod(_spec_with({"image": "registry.propolis.internal.evil.io/payments/api:1.4.2"}))),
		{"image_registry_not_allowed"},
	)
}

test_empty_registry_allow_list_denies_everything if {
	d := admission.decision with input as _pod(_pod_spec)
		with data.propolis.admission.pod_security as _no_pss
		with data.propolis.admission.allowed_registries as []
	_denied_by(d, {"image_registry_not_allowed"})
	endswith(d.reasons[0], "allowed_registries (the list is empty, so every image is denied)")
}

test_invalid_image_reference_denied if {
	_denied_by(_decide(_pod(_spec_with({"image": "bad image:tag"}))), {"image_reference_invalid"})
	_denied_by(_decide(_pod(_spec_with({"image": 42}))), {"image_reference_invalid"})
	spec := {"automountServiceAccountToken": false, "containers": [object.remove(_container, ["image"])]}
	d := _decide(_pod(spec))
	_denied_by(d, {"image_reference_invalid"})
	contains(d.reasons[0], "has image null")
}

# ---------------------------------------------------------------------------
# image_tag_not_pinned
# ---------------------------------------------------------------------------

test_latest_tag_denied if {
	d := _decide(_pod(_spec_with({"image": "registry.propolis.internal/payments/api:latest"})))
	_denied_by(d, {"image_tag_not_pinned"})
	contains(d.reasons[0], "mutable tag 'latest'")
}

test_missing_tag_denied if {
	d := _decide(_pod(_spec_with({"image": "registry.propolis.internal/payments/api"})))
	_denied_by(d, {"image_tag_not_pinned"})
	contains(d.reasons[0], "without a tag or digest")
}

test_digest_pins_image if {
	digest := "sha256:4bcdff7fd1f8fbdb3bd3fde48a2f3f5f3f8d1e3e6c6f4c6b2e7e5a6b7c8d9e0f"
	_clean(_decide(_pod(_spec_with({"image": concat("@", ["registry.propolis.internal/payments/api", digest])}))))
	_clean(_decide(_pod(_spec_with({"image": concat("@", ["registry.propolis.internal/payments/api:latest", digest])}))))
}

test_registry_port_is_not_a_tag if {
	d := admission.decision with input as _pod(_spec_with({"image": "localhost:5000/payments/api"}))
		with data.propolis.admission.pod_security as _no_pss
		with data.propolis.admission.allowed_registries as ["localhost:5000"]
	_denied_by(d, {"image_tag_not_pinned"})
}

# ---------------------------------------------------------------------------
# host_port
# ---------------------------------------------------------------------------

test_host_port_denied if {
	d := _decide(_pod(_spec_with({"ports": [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]})))
	_denied_by(d, {"host_port"})
	contains(d.reasons[0], "binds host port 8080")
}

test_container_port_only_allowed if {
	_clean(_decide(_pod(_spec_with({"ports": [{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 0}]}))))
}

# ---------------------------------------------------------------------------
# run_as_non_root (warn)
# ---------------------------------------------------------------------------

test_run_as_non_root_unset_warns if {
	d := _decide(_pod(_spec_with({"securityContext": {"allowPrivilegeEscalation": false}})))
	d.allow == true
	_warned_by(d, {"run_as_non_root"})
}

test_run_as_non_root_from_pod_security_context if {
	spec := object.union(
		_spec_with({"securityContext": {"allowPrivilegeEscalation": false}}),
		{"securityContext": {"runAsNonRoot": true}},
	)
	_clean(_decide(_pod(spec)))
}

test_container_run_as_non_root_false_overrides_pod if {
	spec := object.union(
		_spec_with({"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": false}}),
		{"securityContext": {"runAsNonRoot": true}},
	)
	d := _decide(_pod(spec))
	d.allow == true
	_warned_by(d, {"run_as_non_root"})
}

# ---------------------------------------------------------------------------
# missing_resource_limits (warn)
# ---------------------------------------------------------------------------

test_missing_limits_warns if {
	d := _decide(_pod(_spec_with({"resources": {"requests": {"cpu": "100m"}, "limits": {}}})))
	d.allow == true
	_warned_by(d, {"missing_resource_limits"})
	contains(d.warnings[0], "for cpu, memory")
}

test_missing_memory_limit_warns if {
	d := _decide(_pod(_spec_with({"resources": {"limits": {"cpu": "1", "memory": null}}})))
	contains(d.warnings[0], "for memory;")
}

test_ephemeral_containers_not_checked_for_limits if {
	debug := {"name": "debugger", "image": "registry.propolis.internal/tools/debug:2.0", "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true}}
	_clean(_decide(_pod(object.union(_pod_spec, {"ephemeralContainers": [debug]}))))
}

test_required_limits_come_from_data if {
	d := admission.decision with input as _pod(_pod_spec)
		with data.propolis.admission.pod_security as _no_pss
		with data.propolis.admission.allowed_registries as _registries
		with data.propolis.admission.required_limits as ["cpu", "memory", "ephemeral-storage"]
	d.allow == true
	_warned_by(d, {"missing_resource_limits"})
	contains(d.warnings[0], "for ephemeral-storage;")
}

# ---------------------------------------------------------------------------
# automount_service_account_token (warn)
# ---------------------------------------------------------------------------

test_automount_unset_warns if {
	d := _decide(_pod(object.remove(_pod_spec, ["automountServiceAccountToken"])))
	d.allow == true
	_warned_by(d, {"automount_service_account_token"})
}

test_automount_true_warns if {
	_warned_by(
		_decide(_pod(object.union(_pod_spec, {"automountServiceAccountToken": true}))),
		{"automount_service_account_token"},
	)
}
