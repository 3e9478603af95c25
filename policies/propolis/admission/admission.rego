# Kubernetes admission: decides whether a Pod, or the pod template of a
# workload controller, may be created or updated.
#
# Input: an AdmissionReview v1 `request` (input.request), the object under
# review at input.request.object. Supported kinds: Pod; Deployment,
# ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController
# (spec.template.spec); CronJob (spec.jobTemplate.spec.template.spec).
# Every container list is checked: containers, initContainers,
# ephemeralContainers.
#
# Entry point: data.propolis.admission.decision
#   {"allow": bool, "reasons": [deny messages], "warnings": [warn messages],
#    "kind": string, "workload": string}
#
# Tunables (data.propolis.admission, see data.json next to this file):
#   allowed_registries    registry hosts ("registry.example.com") or
#                         registry/path prefixes ("ghcr.io/org"); images
#                         from anywhere else are denied. Empty = deny all.
#   allowed_capabilities  capabilities containers may add (without CAP_).
#   required_limits       resources.limits keys every container must set.
package propolis.admission

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

default _allowed_registries := []

_allowed_registries := v if {
	v := data.propolis.admission.allowed_registries
	is_array(v)
}

default _allowed_capabilities := ["NET_BIND_SERVICE"]

_allowed_capabilities := v if {
	v := data.propolis.admission.allowed_capabilities
	is_array(v)
}

default _required_limits := ["cpu", "memory"]

_required_limits := v if {
	v := data.propolis.admission.required_limits
	is_array(v)
}

# ---------------------------------------------------------------------------
# Locating the pod spec
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_request := lib.get_object(_input, "request")

_object := lib.get_object(_request, "object")

_template_kinds := {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"}

# The kind under review: request.kind.kind, else the object's own kind.
kind := k if {
	k := lib.get_string(_request, ["kind", "kind"])
	k != ""
} else := lib.get_string(_object, "kind")

# The pod spec under review; undefined when there is nothing to check
# (unsupported kind, or no object as for DELETE).
pod_spec := lib.get_object(_object, "spec") if {
	count(_object) > 0
	kind == "Pod"
}

pod_spec := lib.get_object(_object, ["spec", "template", "spec"]) if {
	count(_object) > 0
	kind in _template_kinds
}

pod_spec := lib.get_object(_object, ["spec", "jobTemplate", "spec", "template", "spec"]) if {
	count(_object) > 0
	kind == "CronJob"
}

_namespace := ns if {
	ns := lib.get_string(_request, "namespace")
	ns != ""
} else := lib.get_string(_object, ["metadata", "namespace"])

_name := n if {
	n := lib.get_string(_object, ["metadata", "name"])
	n != ""
} else := n if {
	n := lib.get_string(_request, "name")
	n != ""
} else := concat("", [g, "<generated>"]) if {
	g := lib.get_string(_object, ["metadata", "generateName"])
	g != ""
} else := "<unnamed>"

_namespaced_name := concat("/", [_namespace, _name]) if _namespace != ""

else := _name

# "Deployment payments/api": names the workload in every message.
workload := trim_space(concat(" ", [kind, _namespaced_name]))

_container_labels := {
	"containers": "container",
	"initContainers": "init container",
	"ephemeralContainers": "ephemeral container",
}

# Every container of the pod spec, with a label for messages.
containers contains {"list": list, "label": label, "spec": c} if {
	some list, kind_label in _container_labels
	some c in lib.get_array(pod_spec, list)
	is_object(c)
	label := sprintf("%s '%s'", [kind_label, lib.get_string(c, "name")])
}

# ---------------------------------------------------------------------------
# Deny rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not is_object(object.get(_input, "request", null))
	msg := "malformed_request: input.request is missing or not an object; expected an AdmissionReview v1 request"
}

# privileged_container
deny contains msg if {
	some c in containers
	lib.get_bool(c.spec, ["securityContext", "privileged"], false) == true
	msg := sprintf(
		"privileged_container: %s of %s runs privileged (full access to the node); set securityContext.privileged to false",
		[c.label, workload],
	)
}

# privilege_escalation_allowed
deny contains msg if {
	some c in containers
	object.get(c.spec, ["securityContext", "allowPrivilegeEscalation"], null) != false
	msg := sprintf(
		"privilege_escalation_allowed: %s of %s does not set securityContext.allowPrivilegeEscalation to false",
		[c.label, workload],
	)
}

# host_namespace
deny contains msg if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	object.get(pod_spec, field, false) == true
	msg := sprintf(
		"host_namespace: %s sets %s: true and would share the node's namespace; remove it",
		[workload, field],
	)
}

# host_path_volume
deny contains msg if {
	some volume in lib.get_array(pod_spec, "volumes")
	is_object(volume)
	object.get(volume, "hostPath", null) != null
	msg := sprintf(
		"host_path_volume: %s mounts hostPath volume '%s' (path '%s') from the node; use a configMap, secret, emptyDir or PVC instead",
		[workload, lib.get_string(volume, "name"), lib.get_string(volume, ["hostPath", "path"])],
	)
}

_normalize_capability(cap) := trim_prefix(upper(cap), "CAP_") if is_string(cap)

else := sprintf("%v", [cap])

_allowed_capability_set := {_normalize_capability(cap) | some cap in _allowed_capabilities}

# capability_not_allowed
deny contains msg if {
	some c in containers
	some cap in lib.get_array(c.spec, ["securityContext", "capabilities", "add"])
	name := _normalize_capability(cap)
	not name in _allowed_capability_set
	msg := sprintf(
		"capability_not_allowed: %s of %s adds capability %s; allowed: %v (data.propolis.admission.allowed_capabilities)",
		[c.label, workload, name, sort(_allowed_capability_set)],
	)
}

# Each distinct image reference parsed once per evaluation (a rule is evaluated once; a
# function call is not cached), keyed by the reference itself.
_refs[image] := ref if {
	some c in containers
	image := object.get(c.spec, "image", null)
	ref := lib.parse_image(image)
}

# image_reference_invalid
deny contains msg if {
	some c in containers
	image := object.get(c.spec, "image", null)
	not _refs[image]
	msg := sprintf(
		"image_reference_invalid: %s of %s has image %v, which is not a valid image reference",
		[c.label, workload, image],
	)
}

_registry_allowed(ref) if {
	some entry in _allowed_registries
	prefix := trim_suffix(lib.lower_string(entry), "/")
	prefix != ""
	ref.registry == prefix
}

_registry_allowed(ref) if {
	some entry in _allowed_registries
	prefix := trim_suffix(lib.lower_string(entry), "/")
	prefix != ""
	startswith(lower(ref.repository), concat("", [prefix, "/"]))
}

_allow_list_text := sprintf("%v", [_allowed_registries]) if count(_allowed_registries) > 0

else := "(the list is empty, so every image is denied)"

# image_registry_not_allowed
deny contains msg if {
	some c in containers
	image := object.get(c.spec, "image", null)
	ref := _refs[image]
	not _registry_allowed(ref)
	msg := sprintf(
		"image_registry_not_allowed: %s of %s uses image '%s' from registry '%s', which is not in data.propolis.admission.allowed_registries %s",
		[c.label, workload, image, ref.registry, _allow_list_text],
	)
}

# image_tag_not_pinned: ":latest" or no tag at all, and no digest.
deny contains msg if {
	some c in containers
	image := object.get(c.spec, "image", null)
	ref := _refs[image]
	ref.digest == ""
	ref.tag == "latest"
	msg := sprintf(
		"image_tag_not_pinned: %s of %s uses image '%s' with the mutable tag 'latest'; use a version tag or a digest",
		[c.label, workload, image],
	)
}

deny contains msg if {
	some c in containers
	image := object.get(c.spec, "image", null)
	ref := _refs[image]
	ref.digest == ""
	ref.tag == ""
	msg := sprintf(
		"image_tag_not_pinned: %s of %s uses image '%s' without a tag or digest (resolves to 'latest'); use a version tag or a digest",
		[c.label, workload, image],
	)
}

# host_port
deny contains msg if {
	some c in containers
	some port in lib.get_array(c.spec, "ports")
	host_port := object.get(lib.as_object(port), "hostPort", 0)
	not host_port in {0, null}
	msg := sprintf(
		"host_port: %s of %s binds host port %v on the node; expose it through a Service instead",
		[c.label, workload, host_port],
	)
}

# ---------------------------------------------------------------------------
# Warn rules
# ---------------------------------------------------------------------------

# Container securityContext.runAsNonRoot wins over the pod-level setting.
_run_as_non_root(c) := v if {
	v := object.get(c.spec, ["securityContext", "runAsNonRoot"], null)
	is_boolean(v)
} else := object.get(pod_spec, ["securityContext", "runAsNonRoot"], null)

# run_as_non_root
warn contains msg if {
	some c in containers
	_run_as_non_root(c) != true
	msg := sprintf(
		"run_as_non_root: %s of %s may run as root; set securityContext.runAsNonRoot: true on the container or pod",
		[c.label, workload],
	)
}

# missing_resource_limits (ephemeral containers cannot set resources)
warn contains msg if {
	some c in containers
	c.list != "ephemeralContainers"
	limits := lib.get_object(c.spec, ["resources", "limits"])
	missing := [sprintf("%v", [key]) | some key in _required_limits; object.get(limits, key, null) == null]
	count(missing) > 0
	msg := sprintf(
		"missing_resource_limits: %s of %s has no resources.limits for %s; set them so one container cannot starve the node",
		[c.label, workload, concat(", ", missing)],
	)
}

# automount_service_account_token
warn contains msg if {
	pod_spec
	object.get(pod_spec, "automountServiceAccountToken", null) != false
	msg := sprintf(
		"automount_service_account_token: %s does not set automountServiceAccountToken: false; the Kubernetes API token is mounted into every container",
		[workload],
	)
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"kind": kind,
	"workload": workload,
}
