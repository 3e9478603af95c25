# Unit tests of the configurable parts of admission.rego: rule selection,
# exemptions, configuration errors, and the rules and tunables added for
# images, labels, the service-account token, host paths, host namespaces,
# host ports, capabilities and privilege escalation.
package propolis.admission_config_test

import rego.v1

import data.propolis.admission

_image := "registry.propolis.internal/payments/api:1.4.2"

_container := {
	"name": "app",
	"image": _image,
	"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
	"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true},
}

_spec := {"automountServiceAccountToken": false, "containers": [_container]}

_patch(base, patch) := object.union(object.remove(base, [k | some k, _ in patch]), patch)

_spec_with(patch) := _patch(_spec, {"containers": [_patch(_container, patch)]})

_images(images) := _patch(_spec, {"containers": [_patch(_container, {"name": sprintf("c%d", [i]), "image": img}) | some i, img in images]})

_review(kind, obj, ns, op) := {"request": {
	"uid": "1",
	"kind": {"group": "", "version": "v1", "kind": kind},
	"operation": op,
	"namespace": ns,
	"object": obj,
}}

_pod(spec) := _review("Pod", {"kind": "Pod", "metadata": {"name": "api", "labels": {"app": "api"}}, "spec": spec}, "payments", "CREATE")

# Only `rules`, without the Pod Security Standards; other tunables can be set
# around a call.
_only(rules, inp) := d if {
	d := admission.decision with input as inp
		with data.propolis.admission.pod_security as {"default": "privileged"}
		with data.propolis.admission.enabled_rules as rules
		with data.propolis.admission.disabled_rules as []
}

_rules(d) := {split(m, ":")[0] | some m in d.reasons}

_denied(d, rules) if {
	d.allow == false
	_rules(d) == rules
}

_ok(d) if {
	d.allow == true
	d.reasons == []
}

# ---------------------------------------------------------------------------
# Rule selection
# ---------------------------------------------------------------------------

test_enabled_rules_limit_the_rules if {
	spec := _spec_with({"image": "nginx", "securityContext": {"privileged": true}})
	_denied(_only(["privileged_container"], _pod(spec)), {"privileged_container"})
	_denied(_only(["image_tag_not_pinned", "privileged_container"], _pod(spec)), {"image_tag_not_pinned", "privileged_container"})
	_ok(_only([], _pod(spec)))
}

test_pod_security_group_enables_every_pss_rule if {
	spec := _spec_with({"securityContext": {"privileged": true}})
	d := admission.decision with input as _pod(spec)
		with data.propolis.admission.pod_security as {"default": "baseline"}
		with data.propolis.admission.enabled_rules as ["pod_security"]
	_denied(d, {"pss_baseline_privileged"})
}

test_disabled_rules_win if {
	spec := _spec_with({"securityContext": {"privileged": true}})
	d := admission.decision with input as _pod(spec)
		with data.propolis.admission.pod_security as {"default": "privileged"}
		with data.propolis.admission.enabled_rules as ["privileged_container", "image_registry_not_allowed"]
		with data.propolis.admission.disabled_rules as ["privileged_container"]
	_ok(d)
}

test_data_json_disables_the_psp_style_duplicates if {
	d := admission.decision with input as _pod(_spec_with({"securityContext": {"privileged": true}}))
	rules := _rules(d)
	"pss_baseline_privileged" in rules
	not "privileged_container" in rules
	not "privilege_escalation_allowed" in rules
}

test_violations_list_rules_levels_and_effects if {
	d := _only(["image_tag_not_pinned", "automount_service_account_token"], _pod(_patch(_spec_with({"image": "registry.propolis.internal/a"}), {"automountServiceAccountToken": true})))
	d.violations == [
		{"effect": "deny", "level": "policy", "message": d.reasons[0], "rule": "image_tag_not_pinned"},
		{"effect": "warn", "level": "policy", "message": d.warnings[0], "rule": "automount_service_account_token"},
	]
}

# ---------------------------------------------------------------------------
# Exemptions
# ---------------------------------------------------------------------------

_privileged_pod(image) := _pod(_spec_with({"image": image, "securityContext": {"privileged": true}}))

test_exemption_by_image_pattern if {
	ex := [{"rules": ["privileged_container"], "images": ["safeimages.com/*"]}]
	d1 := _only(["privileged_container"], _privileged_pod("safeimages.com/nginx")) with data.propolis.admission.exemptions as ex
	_ok(d1)
	d2 := _only(["privileged_container"], _privileged_pod("nginx:1.25")) with data.propolis.admission.exemptions as ex
	_denied(d2, {"privileged_container"})
	# the normalised form matches too
	ex2 := [{"images": ["docker.io/library/nginx:*"]}]
	d3 := _only(["privileged_container"], _privileged_pod("nginx:1.25")) with data.propolis.admission.exemptions as ex2
	_ok(d3)
}

test_exemption_by_image_never_covers_pod_level_violations if {
	spec := _patch(_spec_with({"image": "safeimages.com/nginx"}), {"hostNetwork": true})
	d := _only(["host_namespace"], _pod(spec)) with data.propolis.admission.exemptions as [{"images": ["safeimages.com/*"]}]
	_denied(d, {"host_namespace"})
}

test_exemption_by_rule_only_covers_that_rule if {
	spec := _spec_with({"image": "nginx", "securityContext": {"privileged": true}})
	d := _only(["privileged_container", "image_tag_not_pinned"], _pod(spec)) with data.propolis.admission.exemptions as [{"rules": ["privileged_container"]}]
	_denied(d, {"image_tag_not_pinned"})
}

test_exemption_by_namespace_operation_kind_and_container_list if {
	inp := _privileged_pod(_image)
	d4 := _only(["privileged_container"], inp) with data.propolis.admission.exemptions as [{"namespaces": ["payments"]}]
	_ok(d4)
	d5 := _only(["privileged_container"], inp) with data.propolis.admission.exemptions as [{"operations": ["CREATE"], "kinds": ["Pod"]}]
	_ok(d5)
	d6 := _only(["privileged_container"], inp) with data.propolis.admission.exemptions as [{"container_lists": ["containers"]}]
	_ok(d6)
	every ex in [[{"namespaces": ["other"]}], [{"operations": ["UPDATE"]}], [{"kinds": ["Deployment"]}], [{"container_lists": ["initContainers"]}], [{"rules": ["host_port"]}]] {
		d7 := _only(["privileged_container"], inp) with data.propolis.admission.exemptions as ex
		_denied(d7, {"privileged_container"})
	}
}

test_exemptions_of_the_wrong_shape_never_match if {
	inp := _privileged_pod(_image)
	every ex in [[{"rules": "privileged_container"}], [{"images": "*"}], [{"images": [3]}], [{"namespaces": "payments"}], ["all"]] {
		dx := _only(["privileged_container"], inp) with data.propolis.admission.exemptions as ex
		_denied(dx, {"privileged_container"})
	}
}

test_update_exemption if {
	obj := {"kind": "Pod", "metadata": {"name": "api"}, "spec": _spec_with({"securityContext": {"privileged": true}})}
	ex := [{"operations": ["UPDATE"]}]
	d8 := _only(["privileged_container"], _review("Pod", obj, "payments", "UPDATE")) with data.propolis.admission.exemptions as ex
	_ok(d8)
	d9 := _only(["privileged_container"], _review("Pod", obj, "payments", "CREATE")) with data.propolis.admission.exemptions as ex
	_denied(d9, {"privileged_container"})
}

# ---------------------------------------------------------------------------
# Configuration errors
# ---------------------------------------------------------------------------

test_invalid_image_pattern_refuses_every_request if {
	d := _only(["image_not_allowed"], _pod(_spec)) with data.propolis.admission.allowed_images as ["not-a-valid-image-tag:1.0.0+rc1"]
	d.allow == false
	d.reasons == ["admission_config_invalid: allowed_images[0] not-a-valid-image-tag:1.0.0+rc1 is neither a valid image reference nor a pattern with '*'; every request is denied until data.propolis.admission is fixed"]
}

test_config_errors_cannot_be_disabled_or_exempted if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.enabled_rules as []
		with data.propolis.admission.exemptions as [{}]
		with data.propolis.admission.automount_service_account_token as "sometimes"
	_denied(d, {"admission_config_invalid"})
	contains(d.reasons[0], "automount_service_account_token is sometimes")
}

test_config_errors_of_every_kind if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.privilege_escalation_unset as 1
		with data.propolis.admission.denied_images as [3]
		with data.propolis.admission.allowed_host_ports as {"min": 1}
		with data.propolis.admission.pod_security as {"default": "baseline", "namespaces": {"x": "none"}}
	_denied(d, {"admission_config_invalid"})
	count(d.reasons) == 4
}

test_every_array_tunable_of_another_type_is_reported if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.allowed_registries as "x"
		with data.propolis.admission.denied_registries as "x"
		with data.propolis.admission.allowed_capabilities as "x"
		with data.propolis.admission.required_drop_capabilities as "x"
		with data.propolis.admission.required_limits as "x"
		with data.propolis.admission.required_labels as "x"
		with data.propolis.admission.allowed_images as "x"
		with data.propolis.admission.denied_images as "x"
		with data.propolis.admission.denied_tags as "x"
		with data.propolis.admission.allowed_host_namespaces as "x"
		with data.propolis.admission.allowed_host_ports as "x"
		with data.propolis.admission.allowed_host_paths as "x"
		with data.propolis.admission.exemptions as "x"
		with data.propolis.admission.disabled_rules as "x"
		with data.propolis.admission.enabled_rules as "x"
	_denied(d, {"admission_config_invalid"})
	count(d.reasons) == 15
	every r in d.reasons {
		contains(r, " is not an array; every request is denied")
	}
}

test_pod_security_of_the_wrong_shape_is_reported if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.pod_security as "restricted"
	_denied(d, {"admission_config_invalid"})
	contains(d.reasons[0], "pod_security is not an object")
	d2 := admission.decision with input as _pod(_spec)
		with data.propolis.admission.pod_security as {"namespaces": ["x"]}
	_denied(d2, {"admission_config_invalid"})
	contains(d2.reasons[0], "pod_security.namespaces is not an object")
}

test_unknown_rule_ids_are_reported if {
	d := admission.decision with input as _pod(_spec)
		with data.propolis.admission.enabled_rules as ["pod_security", "image_tag_not_pined"]
		with data.propolis.admission.disabled_rules as ["privileged"]
		with data.propolis.admission.exemptions as [{"rules": ["host_port", "hostport"]}]
	_denied(d, {"admission_config_invalid"})
	d.reasons == [
		`admission_config_invalid: disabled_rules names unknown rules ["privileged"]; every request is denied until data.propolis.admission is fixed`,
		`admission_config_invalid: enabled_rules names unknown rules ["image_tag_not_pined"]; every request is denied until data.propolis.admission is fixed`,
		`admission_config_invalid: exemptions[*].rules names unknown rules ["hostport"]; every request is denied until data.propolis.admission is fixed`,
	]
}

test_valid_configuration_reports_nothing if {
	count(admission._config_problems) == 0 with input as _pod(_spec)
}

# ---------------------------------------------------------------------------
# Images: registries, image patterns, tags, digests
# ---------------------------------------------------------------------------

test_registry_glob_patterns if {
	inp := _pod(_images(["nginx:1.0.0", "ghcr.io/org/app:1", "quay.io/x/y:2"]))
	d := _only(["image_registry_not_allowed"], inp) with data.propolis.admission.allowed_registries as ["*.io"]
	_ok(d)
	d2 := _only(["image_registry_not_allowed"], inp) with data.propolis.admission.allowed_registries as ["ghcr.io", "docker.io/library/*"]
	_denied(d2, {"image_registry_not_allowed"})
	count(d2.reasons) == 1
	contains(d2.reasons[0], "'quay.io/x/y:2' (spec.containers[2].image)")
}

test_denied_registries if {
	inp := _pod(_images(["k8s.gcr.io/kustomize/kustomize:v3.8.9", "registry.k8s.io/kustomize/kustomize:v3.8.9"]))
	d := _only(["image_registry_denied"], inp) with data.propolis.admission.denied_registries as ["k8s.gcr.io/"]
	_denied(d, {"image_registry_denied"})
	count(d.reasons) == 1
	contains(d.reasons[0], "container 'c0'")
	d10 := _only(["image_registry_denied"], inp) with data.propolis.admission.denied_registries as []
	_ok(d10)
	d2 := _only(["image_registry_denied"], _pod(_images(["openpolicyagent/opa:0.9.2"]))) with data.propolis.admission.denied_registries as ["docker.io/openpolicyagent"]
	_denied(d2, {"image_registry_denied"})
}

test_allowed_images if {
	inp := _pod(_images(["ghcr.io/kubewarden/test:signed"]))
	d11 := _only(["image_not_allowed"], inp) with data.propolis.admission.allowed_images as ["ghcr.io/kubewarden/test:signed"]
	_ok(d11)
	d12 := _only(["image_not_allowed"], inp) with data.propolis.admission.allowed_images as ["ghcr.io/*"]
	_ok(d12)
	d := _only(["image_not_allowed"], inp) with data.propolis.admission.allowed_images as ["docker.io/library/*"]
	_denied(d, {"image_not_allowed"})
	contains(d.reasons[0], "matches none of data.propolis.admission.allowed_images")
	d13 := _only(["image_not_allowed"], _pod(_images(["nginx:1.0.0"]))) with data.propolis.admission.allowed_images as ["docker.io/library/*"]
	_ok(d13)
}

test_allowed_images_unset_allows_every_image if {
	_ok(_only(["image_not_allowed"], _pod(_images(["nginx:1.0.0"]))))
}

test_denied_images if {
	inp := _pod(_images(["ghcr.io/kubewarden/test:signed", "ghcr.io/kubewarden/other:1"]))
	d := _only(["image_denied"], inp) with data.propolis.admission.denied_images as ["ghcr.io/kubewarden/test:signed"]
	_denied(d, {"image_denied"})
	count(d.reasons) == 1
	d14 := _only(["image_denied"], inp) with data.propolis.admission.denied_images as ["quay.io/*"]
	_ok(d14)
}

test_denied_tags if {
	inp := _pod(_images(["registry.propolis.internal/a:dev", "registry.propolis.internal/b:1.0"]))
	d := _only(["image_tag_not_pinned"], inp) with data.propolis.admission.denied_tags as ["dev", "latest"]
	_denied(d, {"image_tag_not_pinned"})
	contains(d.reasons[0], "mutable tag 'dev'")
	# without "latest" in the list an untagged image is not refused
	d15 := _only(["image_tag_not_pinned"], _pod(_images(["registry.propolis.internal/a"]))) with data.propolis.admission.denied_tags as ["dev"]
	_ok(d15)
	_denied(_only(["image_tag_not_pinned"], _pod(_images(["registry.propolis.internal/a"]))), {"image_tag_not_pinned"})
}

test_require_digest if {
	digest := "registry.propolis.internal/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	inp := _pod(_images([_image, digest]))
	d := _only(["image_digest_required"], inp) with data.propolis.admission.require_digest as true
	_denied(d, {"image_digest_required"})
	count(d.reasons) == 1
	contains(d.reasons[0], "(spec.containers[0].image) without a digest")
	_ok(_only(["image_digest_required"], inp))
}

# ---------------------------------------------------------------------------
# Labels and the service-account token
# ---------------------------------------------------------------------------

test_required_labels if {
	labels := ["app", "team", "app.kubernetes.io/name"]
	d := _only(["missing_required_labels"], _pod(_spec)) with data.propolis.admission.required_labels as labels
	_denied(d, {"missing_required_labels"})
	contains(d.reasons[0], `lacks the labels ["team", "app.kubernetes.io/name"] in metadata.labels`)
	d16 := _only(["missing_required_labels"], _pod(_spec)) with data.propolis.admission.required_labels as ["app"]
	_ok(d16)
	_ok(_only(["missing_required_labels"], _pod(_spec)))
}

test_required_labels_on_controllers if {
	obj := {"metadata": {"name": "api", "labels": {"team": "pay"}}, "spec": {"template": {"spec": _spec}}}
	inp := _review("Deployment", obj, "payments", "CREATE")
	d17 := _only(["missing_required_labels"], inp) with data.propolis.admission.required_labels as ["team"]
	_ok(d17)
	d18 := _only(["missing_required_labels"], inp) with data.propolis.admission.required_labels as ["app"]
	_denied(d18, {"missing_required_labels"})
}

test_automount_modes if {
	inp := _pod(_patch(_spec, {"automountServiceAccountToken": true}))
	warned := _only(["automount_service_account_token"], inp)
	warned.allow == true
	count(warned.warnings) == 1
	d19 := _only(["automount_service_account_token"], inp) with data.propolis.admission.automount_service_account_token as "deny"
	_denied(d19, {"automount_service_account_token"})
	off := _only(["automount_service_account_token"], inp) with data.propolis.admission.automount_service_account_token as "off"
	_ok(off)
	off.warnings == []
	d20 := _only(["automount_service_account_token"], _pod(_spec)) with data.propolis.admission.automount_service_account_token as "deny"
	_ok(d20)
}

# ---------------------------------------------------------------------------
# Host paths, namespaces and ports
# ---------------------------------------------------------------------------

_host_path_pod(path, read_only) := _pod(_patch(_spec_with({"volumeMounts": [{"name": "h", "mountPath": "/h", "readOnly": read_only}]}), {"volumes": [{"name": "h", "hostPath": {"path": path}}]}))

test_allowed_host_paths if {
	allowed := [{"pathPrefix": "/foo", "readOnly": true}]
	d21 := _only(["host_path_volume"], _host_path_pod("/foo/bar", true)) with data.propolis.admission.allowed_host_paths as allowed
	_ok(d21)
	d22 := _only(["host_path_volume"], _host_path_pod("/foo", true)) with data.propolis.admission.allowed_host_paths as allowed
	_ok(d22)
	d := _only(["host_path_volume"], _host_path_pod("/foobar", true)) with data.propolis.admission.allowed_host_paths as allowed
	_denied(d, {"host_path_volume"})
	contains(d.reasons[0], "which is not under data.propolis.admission.allowed_host_paths")
	w := _only(["host_path_volume"], _host_path_pod("/foo/bar", false)) with data.propolis.admission.allowed_host_paths as allowed
	_denied(w, {"host_path_volume"})
	contains(w.reasons[0], "set spec.containers[0].volumeMounts[0].readOnly to true")
}

test_most_specific_host_path_decides_read_only if {
	allowed := [{"pathPrefix": "/var", "readOnly": false}, {"pathPrefix": "/var/local/", "readOnly": true}]
	d23 := _only(["host_path_volume"], _host_path_pod("/var/log", false)) with data.propolis.admission.allowed_host_paths as allowed
	_ok(d23)
	d24 := _only(["host_path_volume"], _host_path_pod("/var/local/aaa", true)) with data.propolis.admission.allowed_host_paths as allowed
	_ok(d24)
	d25 := _only(["host_path_volume"], _host_path_pod("/var/local/aaa", false)) with data.propolis.admission.allowed_host_paths as allowed
	_denied(d25, {"host_path_volume"})
}

test_allowed_host_namespaces if {
	spec := _patch(_spec, {"hostNetwork": true, "hostPID": true})
	d := _only(["host_namespace"], _pod(spec)) with data.propolis.admission.allowed_host_namespaces as ["hostNetwork"]
	_denied(d, {"host_namespace"})
	count(d.reasons) == 1
	contains(d.reasons[0], "spec.hostPID: true")
	d26 := _only(["host_namespace"], _pod(spec)) with data.propolis.admission.allowed_host_namespaces as ["hostNetwork", "hostPID"]
	_ok(d26)
}

test_allowed_host_ports if {
	spec := _spec_with({"ports": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 9001, "hostPort": 9001}]})
	ranges := [{"min": 80, "max": 9000}]
	d := _only(["host_port"], _pod(spec)) with data.propolis.admission.allowed_host_ports as ranges
	_denied(d, {"host_port"})
	count(d.reasons) == 1
	contains(d.reasons[0], "host port 9001 (spec.containers[0].ports[1].hostPort)")
	d27 := _only(["host_port"], _pod(spec)) with data.propolis.admission.allowed_host_ports as [{"min": 80, "max": 80}, {"min": 9001, "max": 9001}]
	_ok(d27)
}

# ---------------------------------------------------------------------------
# Capabilities and privilege escalation
# ---------------------------------------------------------------------------

_caps(caps) := _pod(_spec_with({"securityContext": {"capabilities": caps}}))

test_capability_wildcard_allows_every_capability if {
	d28 := _only(["capability_not_allowed"], _caps({"add": ["BPF", "SYS_ADMIN"]})) with data.propolis.admission.allowed_capabilities as ["*"]
	_ok(d28)
}

test_capability_drop_required if {
	required := ["NET_RAW", "SYS_ADMIN"]
	d := _only(["capability_drop_required"], _caps({"drop": ["NET_RAW"]})) with data.propolis.admission.required_drop_capabilities as required
	_denied(d, {"capability_drop_required"})
	contains(d.reasons[0], `does not drop ["SYS_ADMIN"] in spec.containers[0].securityContext.capabilities.drop`)
	d29 := _only(["capability_drop_required"], _caps({"drop": ["ALL"]})) with data.propolis.admission.required_drop_capabilities as required
	_ok(d29)
	d30 := _only(["capability_drop_required"], _caps({"drop": ["net_raw", "CAP_SYS_ADMIN"]})) with data.propolis.admission.required_drop_capabilities as required
	_ok(d30)
	_ok(_only(["capability_drop_required"], _caps({})))
}

test_capability_required_drop_added if {
	d := _only(["capability_required_drop_added"], _caps({"add": ["NET_ADMIN"]})) with data.propolis.admission.required_drop_capabilities as ["NET_ADMIN"]
	_denied(d, {"capability_required_drop_added"})
	d31 := _only(["capability_required_drop_added"], _caps({"add": ["KILL"]})) with data.propolis.admission.required_drop_capabilities as ["NET_ADMIN"]
	_ok(d31)
}

test_privilege_escalation_unset_allowed_when_configured if {
	unset := _pod(_spec_with({"securityContext": {}}))
	explicit := _pod(_spec_with({"securityContext": {"allowPrivilegeEscalation": true}}))
	_denied(_only(["privilege_escalation_allowed"], unset), {"privilege_escalation_allowed"})
	d32 := _only(["privilege_escalation_allowed"], unset) with data.propolis.admission.privilege_escalation_unset as "allow"
	_ok(d32)
	d := _only(["privilege_escalation_allowed"], explicit) with data.propolis.admission.privilege_escalation_unset as "allow"
	_denied(d, {"privilege_escalation_allowed"})
	contains(d.reasons[0], "sets spec.containers[0].securityContext.allowPrivilegeEscalation to true")
}
