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

# This decision point sits on the Kubernetes admission path, so the rules
# below keep the work per evaluation small: fields are read by reference or
# with object.get and a type check rather than through the lib.get_* helpers
# (a function runs every time it is called, a rule once per query), and each
# container, image reference included, is read once to build _containers;
# image references are parsed without a regular expression in the common case.

_input := input if is_object(input)

else := {}

_object := v if {
	v := object.get(_input, ["request", "object"], {})
	is_object(v)
} else := {}

# The kind under review: request.kind.kind, else the object's own kind.
kind := k if {
	k := object.get(_input, ["request", "kind", "kind"], "")
	is_string(k)
	k != ""
} else := k if {
	k := object.get(_object, "kind", "")
	is_string(k)
} else := ""

# Where the pod spec sits in the object of each supported kind.
_spec_paths := {
	"Pod": ["spec"],
	"Deployment": ["spec", "template", "spec"],
	"ReplicaSet": ["spec", "template", "spec"],
	"StatefulSet": ["spec", "template", "spec"],
	"DaemonSet": ["spec", "template", "spec"],
	"Job": ["spec", "template", "spec"],
	"ReplicationController": ["spec", "template", "spec"],
	"CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
}

# The pod spec under review; undefined when there is nothing to check
# (unsupported kind, or no object as for DELETE).
pod_spec := v if {
	count(_object) > 0
	v := object.get(_object, _spec_paths[kind], {})
	is_object(v)
} else := {} if {
	count(_object) > 0
	_spec_paths[kind]
}

_namespace := ns if {
	ns := object.get(_input, ["request", "namespace"], "")
	is_string(ns)
	ns != ""
} else := ns if {
	ns := object.get(_object, ["metadata", "namespace"], "")
	is_string(ns)
} else := ""

_name := n if {
	n := object.get(_object, ["metadata", "name"], "")
	is_string(n)
	n != ""
} else := n if {
	n := object.get(_input, ["request", "name"], "")
	is_string(n)
	n != ""
} else := concat("", [g, "<generated>"]) if {
	g := object.get(_object, ["metadata", "generateName"], "")
	is_string(g)
	g != ""
} else := "<unnamed>"

# "Deployment payments/api": names the workload in every message.
workload := trim_space(concat(" ", [kind, concat("/", [_namespace, _name])])) if _namespace != ""

else := trim_space(concat(" ", [kind, _name]))

# Every container of the pod spec, in one pass: its list, its kind and name
# for messages (as in "init container 'setup'"; "" for a name that is not a
# string), its spec, its image (null when absent) and that image parsed (null
# when it is not a valid reference). An array, not a set: sets of objects are
# compared deeply. `some c in items` walks a set as it would
# lib.as_array(items), and every rule below collects into a set.
_containers := [{
	"list": list[0],
	"kind": list[1],
	"name": object.get({true: name}, is_string(name), ""),
	"spec": c,
	"image": image,
	"ref": _parse_image(image),
} |
	spec := pod_spec
	some list in [["containers", "container"], ["initContainers", "init container"], ["ephemeralContainers", "ephemeral container"]]
	items := spec[list[0]]
	type_name(items) in {"array", "set"}
	some c in items
	is_object(c)
	name := object.get(c, "name", "")
	image := object.get(c, "image", null)
]

# ---------------------------------------------------------------------------
# Deny rules
# ---------------------------------------------------------------------------

deny contains msg if {
	not is_object(object.get(_input, "request", null))
	msg := "malformed_request: input.request is missing or not an object; expected an AdmissionReview v1 request"
}

# privileged_container
deny contains msg if {
	some c in _containers
	c.spec.securityContext.privileged == true
	msg := sprintf(
		"privileged_container: %s '%s' of %s runs privileged (full access to the node); set securityContext.privileged to false",
		[c.kind, c.name, workload],
	)
}

# privilege_escalation_allowed
deny contains msg if {
	some c in _containers
	not c.spec.securityContext.allowPrivilegeEscalation == false
	msg := sprintf(
		"privilege_escalation_allowed: %s '%s' of %s does not set securityContext.allowPrivilegeEscalation to false",
		[c.kind, c.name, workload],
	)
}

# host_namespace
deny contains msg if {
	some field, value in object.filter(pod_spec, ["hostNetwork", "hostPID", "hostIPC"])
	value == true
	msg := sprintf(
		"host_namespace: %s sets %s: true and would share the node's namespace; remove it",
		[workload, field],
	)
}

# host_path_volume
deny contains msg if {
	volumes := pod_spec.volumes
	type_name(volumes) in {"array", "set"}
	some volume in volumes
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
	some c in _containers
	added := c.spec.securityContext.capabilities.add
	type_name(added) in {"array", "set"}
	some cap in added
	name := _normalize_capability(cap)
	not name in _allowed_capability_set
	msg := sprintf(
		"capability_not_allowed: %s '%s' of %s adds capability %s; allowed: %v (data.propolis.admission.allowed_capabilities)",
		[c.kind, c.name, workload, name, sort(_allowed_capability_set)],
	)
}

# image_reference_invalid
deny contains msg if {
	some c in _containers
	c.ref == null
	msg := sprintf(
		"image_reference_invalid: %s '%s' of %s has image %v, which is not a valid image reference",
		[c.kind, c.name, workload, c.image],
	)
}

# Allow-list entries, lower-cased and without a trailing "/": registry hosts
# ("registry.example.com") or registry/path prefixes ("ghcr.io/org").
_registry_prefixes := {prefix |
	some entry in _allowed_registries
	is_string(entry)
	prefix := trim_suffix(lower(entry), "/")
	prefix != ""
}

# A registry never contains "/": a reference is allowed when its registry is an
# entry, or when its repository starts with an entry (with a "/") followed by
# a "/".
_allowed_by_repository(ref) if {
	host := concat("", [ref.registry, "/"])
	some prefix in _registry_prefixes
	startswith(prefix, host)
	startswith(lower(_repository(ref)), concat("", [prefix, "/"]))
}

_allow_list_text := sprintf("%v", [_allowed_registries]) if count(_allowed_registries) > 0

else := "(the list is empty, so every image is denied)"

# image_registry_not_allowed
deny contains msg if {
	some c in _containers
	ref := c.ref
	ref != null
	not ref.registry in _registry_prefixes
	not _allowed_by_repository(ref)
	msg := sprintf(
		"image_registry_not_allowed: %s '%s' of %s uses image '%s' from registry '%s', which is not in data.propolis.admission.allowed_registries %s",
		[c.kind, c.name, workload, c.image, ref.registry, _allow_list_text],
	)
}

# image_tag_not_pinned: ":latest" or no tag at all, and no digest.
deny contains msg if {
	some c in _containers
	ref := c.ref
	ref.digest == ""
	format := {
		"latest": "image_tag_not_pinned: %s '%s' of %s uses image '%s' with the mutable tag 'latest'; use a version tag or a digest",
		"": "image_tag_not_pinned: %s '%s' of %s uses image '%s' without a tag or digest (resolves to 'latest'); use a version tag or a digest",
	}[ref.tag]
	is_string(format)
	msg := sprintf(format, [c.kind, c.name, workload, c.image])
}

# host_port
deny contains msg if {
	some c in _containers
	ports := c.spec.ports
	type_name(ports) in {"array", "set"}
	some port in ports
	is_object(port)
	host_port := object.get(port, "hostPort", 0)
	not host_port in {0, null}
	msg := sprintf(
		"host_port: %s '%s' of %s binds host port %v on the node; expose it through a Service instead",
		[c.kind, c.name, workload, host_port],
	)
}

# ---------------------------------------------------------------------------
# Image references
# ---------------------------------------------------------------------------

# _parse_image(image) reads an image reference as lib.parse_image does, as
#   {"registry", "tag", "digest", "name" ([registry/]path as written),
#    "raw_registry" (the registry as written, "" when there is none)}
# (_repository(ref) gives its repository), or null when the reference is not
# valid. A reference of printable ASCII (no white space) with no ":" but those
# of the tag and the digest, [registry/]path[:tag][@algo:hex], that is nearly
# every real one, is taken apart with string builtins, several times cheaper
# than lib.parse_image's regular expression; the most common shapes, with a
# registry that contains ".", come first. Anything else goes to
# lib.parse_image.
_parse_image(image) := null if {
	not is_string(image)
} else := _lib_image_ref(image) if {
	trim(image, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != ""
} else := {
	"registry": object.get(_docker_hub, registry, lower(registry)),
	"tag": tag,
	"digest": "",
	"name": name,
	"raw_registry": registry,
} if {
	# registry/path:tag
	not contains(image, "@")
	[name, tag] := split(image, ":")
	tag != ""
	count(tag) <= 128
	trim(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
	trim_left(tag, ".-") == tag
	components := split(name, "/")
	components[1] != ""
	registry := components[0]
	contains(registry, ".")
} else := {
	"registry": object.get(_docker_hub, registry, lower(registry)),
	"tag": "",
	"digest": digest,
	"name": name,
	"raw_registry": registry,
} if {
	# registry/path@digest
	[name, digest] := split(image, "@")
	not contains(name, ":")
	[algorithm, hex] := split(digest, ":")
	algorithm != ""
	hex != ""
	trim(algorithm, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+._-") == ""
	trim(hex, "ABCDEFabcdef0123456789") == ""
	components := split(name, "/")
	components[1] != ""
	registry := components[0]
	contains(registry, ".")
} else := {
	"registry": object.get(_docker_hub, registry, lower(registry)),
	"tag": array.concat(colons, [""])[1],
	"digest": array.concat(at, [""])[1],
	"name": colons[0],
	"raw_registry": registry,
} if {
	# [registry/]path[:tag][@digest], any other way
	at := split(image, "@")
	colons := split(at[0], ":")
	_valid_tag_part(colons)
	_valid_digest_part(at)
	registry := _registry_part(split(colons[0], "/"))
	is_string(registry)
} else := _lib_image_ref(image)

# lib.parse_image(image) in the shape of _parse_image, or null.
_lib_image_ref(image) := {
	"registry": ref.registry,
	"tag": ref.tag,
	"digest": ref.digest,
	"name": ref.repository,
	"raw_registry": ref.registry,
} if {
	ref := lib.parse_image(image)
	is_object(ref)
} else := null

# Registry aliases of Docker Hub ("" when the reference names no registry).
_docker_hub := {"": "docker.io", "docker.io": "docker.io", "index.docker.io": "docker.io", "registry-1.docker.io": "docker.io"}

# No ":" in the name, or one before a valid tag.
_valid_tag_part(colons) if count(colons) == 1

_valid_tag_part(colons) if {
	[_, tag] := colons
	tag != ""
	count(tag) <= 128
	trim(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
	trim_left(tag, ".-") == tag
}

# No "@", or one before a valid digest.
_valid_digest_part(at) if count(at) == 1

_valid_digest_part(at) if {
	[_, digest] := at
	_valid_digest(digest)
}

_valid_digest(digest) if {
	[algorithm, hex] := split(digest, ":")
	algorithm != ""
	hex != ""
	trim(algorithm, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+._-") == ""
	trim(hex, "ABCDEFabcdef0123456789") == ""
}

# The registry part of a name without ":", "@" or white space, given its
# "/"-separated components: the first component when it contains "." or is
# "localhost" and a path follows that does not start with "/"; else "" (Docker
# Hub) when the whole name is a valid path; undefined when it is not.
_registry_part(components) := first if {
	components[1] != ""
	first := components[0]
	true in [contains(first, "."), first == "localhost"]
} else := "" if {
	components[0] != ""
}

# The repository (registry/path, Docker Hub's official images under
# "library/") of a reference from _parse_image, as lib.parse_image gives it.
_repository(ref) := concat("", [ref.registry, "/", library, path]) if {
	path := trim_prefix(ref.name, concat("", [ref.raw_registry, "/"]))
	library := {true: "library/", false: ""}[[ref.registry, contains(path, "/")] == ["docker.io", false]]
}

# ---------------------------------------------------------------------------
# Warn rules
# ---------------------------------------------------------------------------

# run_as_non_root: the container securityContext.runAsNonRoot wins over the
# pod-level one, which applies when the container's is not a boolean. With
# runAsNonRoot: true on the pod, only a container that sets false may run as
# root; otherwise every container that does not set true.
warn contains msg if {
	pod_spec.securityContext.runAsNonRoot == true
	some c in _containers
	c.spec.securityContext.runAsNonRoot == false
	msg := _run_as_root_message(c)
}

warn contains msg if {
	not pod_spec.securityContext.runAsNonRoot == true
	some c in _containers
	not c.spec.securityContext.runAsNonRoot == true
	msg := _run_as_root_message(c)
}

_run_as_root_message(c) := sprintf(
	"run_as_non_root: %s '%s' of %s may run as root; set securityContext.runAsNonRoot: true on the container or pod",
	[c.kind, c.name, workload],
)

# The required limits as keys to look up in resources.limits. A name that is
# not a string is looked up as [[]], which no JSON object has: containers are
# then always checked by the warn rule below.
_limit_keys := [object.get({true: key}, is_string(key), [[]]) | some key in _required_limits]

# Indexes of the containers (not ephemeral ones: they cannot set resources)
# that may leave a required limit unset (missing or null); the warn rule below
# finds which. A lookup by reference, like lib.get_object, finds nothing under
# a resources.limits that is not an object.
_lacking_limits contains i if {
	some i, c in _containers
	c.list != "ephemeralContainers"
	some key in _limit_keys
	not c.spec.resources.limits[key] != null
}

# missing_resource_limits
warn contains msg if {
	some i in _lacking_limits
	c := _containers[i]
	v := object.get(c.spec, ["resources", "limits"], {})
	limits := object.get({true: v}, is_object(v), {}) # as lib.get_object
	missing := [sprintf("%v", [key]) | some key in _required_limits; object.get(limits, key, null) == null]
	count(missing) > 0
	msg := sprintf(
		"missing_resource_limits: %s '%s' of %s has no resources.limits for %s; set them so one container cannot starve the node",
		[c.kind, c.name, workload, concat(", ", missing)],
	)
}

# automount_service_account_token
warn contains msg if {
	pod_spec
	not pod_spec.automountServiceAccountToken == false
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
