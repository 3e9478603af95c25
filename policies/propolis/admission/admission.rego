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
#    "kind": string, "workload": string,
#    "violations": [{"rule", "level", "effect", "message"}],
#    "mode": "enforce" | "warn" | "audit",
#    "enforcement": {"mode", "allowed", "warnings"},   (what the webhook
#    answers in the namespace's mode; see risk.rego, which also holds the
#    image risk rules, failure policies and exemption expiry)
#    "exemptions": [ids of the exemptions that dropped a violation]}
# Every message starts with its rule id ("pss_baseline_privileged: ...").
# "level" is the Pod Security Standards level a pss_* rule implements
# ("baseline" or "restricted"), "policy" for the other rules; "effect" is
# "deny" (listed in reasons) or "warn" (listed in warnings).
#
# Two layers of rules:
# - pss.rego: every control of the Kubernetes Pod Security Standards baseline
#   and restricted levels (rule ids pss_baseline_* / pss_restricted_*), at the
#   level chosen per namespace (pod_security below). They take no tunables
#   but the host port "known list" (allowed_host_ports).
# - this file: the Propolis rules (images, labels, limits, service-account
#   token) and PSP-style rules with allow-lists (privileged_container,
#   privilege_escalation_allowed, host_namespace, host_path_volume, host_port,
#   capability_not_allowed, capability_drop_required,
#   capability_required_drop_added). The PSP-style rules
#   overlap the Pod Security Standards, so data.json disables them by default
#   (disabled_rules); enable them where an allow-list is needed.
#
# Tunables (data.propolis.admission, see data.json next to this file):
#   pod_security          {"default": level, "namespaces": {ns: level}}, level
#                         "privileged" (no PSS checks), "baseline" or
#                         "restricted". Default: restricted everywhere.
#   enabled_rules         rule ids to evaluate ("pod_security" stands for
#                         every pss_* rule); absent = every rule.
#   disabled_rules        rule ids never evaluated.
#   exemptions            [{"rules", "namespaces", "operations", "kinds",
#                         "container_lists", "images"}, plus "id", "owner",
#                         "reason", "expires" (risk.rego)]: a violation matching
#                         every key given in one entry is dropped ("images"
#                         are glob patterns over the image as written or
#                         normalised; container-level violations only).
#   allowed_registries    registry hosts ("registry.example.com"),
#                         registry/path prefixes ("ghcr.io/org") or glob
#                         patterns ("*.example.com"); images from anywhere
#                         else are denied. Empty = deny all.
#   denied_registries     same form; images from there are denied.
#   allowed_images        image patterns ("ghcr.io/org/*", exact refs); when
#                         set, an image matching none is denied.
#   denied_images         image patterns that are denied.
#   denied_tags           mutable tags to refuse (default ["latest"]; an image
#                         with neither tag nor digest counts as "latest").
#   require_digest        true: every image must be pinned by digest.
#   required_labels       label keys the object's metadata.labels must carry.
#   allowed_capabilities  capabilities containers may add (without CAP_;
#                         "*" = any).
#   required_drop_capabilities  capabilities every container must drop
#                         (dropping ALL satisfies any).
#   allowed_host_paths    [{"pathPrefix", "readOnly"}]; absent = no hostPath.
#   allowed_host_namespaces  which of hostNetwork, hostPID, hostIPC
#                         host_namespace lets through.
#   allowed_host_ports    [{"min", "max"}] host ports that may be bound
#                         (host_port, and the PSS baseline "known list").
#   privilege_escalation_unset  "deny" (default: allowPrivilegeEscalation
#                         must be false) or "allow" (only true is denied).
#   required_limits       resources.limits keys every container must set.
#   automount_service_account_token  "warn" (default), "deny" or "off".
#
# A tunable of the wrong shape denies every request with
# admission_config_invalid, rather than silently weakening the policy.
package propolis.admission

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

# Every tunable is read once, here: a reference into data.propolis.admission
# is a lookup among the rules of this package too (and a reference to the
# whole of it would include them). Each value is a one-element array, or []
# when the key is absent.
_tunables := {
	"pod_security": [v | v := data.propolis.admission.pod_security],
	"automount_service_account_token": [v | v := data.propolis.admission.automount_service_account_token],
	"privilege_escalation_unset": [v | v := data.propolis.admission.privilege_escalation_unset],
	"require_digest": [v | v := data.propolis.admission.require_digest],
}

# The tunables that must be arrays.
_array_tunables := {
	"allowed_registries": [v | v := data.propolis.admission.allowed_registries],
	"denied_registries": [v | v := data.propolis.admission.denied_registries],
	"allowed_capabilities": [v | v := data.propolis.admission.allowed_capabilities],
	"required_drop_capabilities": [v | v := data.propolis.admission.required_drop_capabilities],
	"required_limits": [v | v := data.propolis.admission.required_limits],
	"required_labels": [v | v := data.propolis.admission.required_labels],
	"allowed_images": [v | v := data.propolis.admission.allowed_images],
	"denied_images": [v | v := data.propolis.admission.denied_images],
	"denied_tags": [v | v := data.propolis.admission.denied_tags],
	"allowed_host_namespaces": [v | v := data.propolis.admission.allowed_host_namespaces],
	"allowed_host_ports": [v | v := data.propolis.admission.allowed_host_ports],
	"allowed_host_paths": [v | v := data.propolis.admission.allowed_host_paths],
	"exemptions": [v | v := data.propolis.admission.exemptions],
	"disabled_rules": [v | v := data.propolis.admission.disabled_rules],
	"enabled_rules": [v | v := data.propolis.admission.enabled_rules],
}

default _allowed_registries := []

_allowed_registries := v if {
	some v in _array_tunables.allowed_registries
	is_array(v)
}

default _denied_registries := []

_denied_registries := v if {
	some v in _array_tunables.denied_registries
	is_array(v)
}

default _allowed_capabilities := ["NET_BIND_SERVICE"]

_allowed_capabilities := v if {
	some v in _array_tunables.allowed_capabilities
	is_array(v)
}

default _required_drop_capabilities := []

_required_drop_capabilities := v if {
	some v in _array_tunables.required_drop_capabilities
	is_array(v)
}

default _required_limits := ["cpu", "memory"]

_required_limits := v if {
	some v in _array_tunables.required_limits
	is_array(v)
}

default _required_labels := []

_required_labels := v if {
	some v in _array_tunables.required_labels
	is_array(v)
}

default _allowed_images_setting := []

_allowed_images_setting := v if {
	some v in _array_tunables.allowed_images
	is_array(v)
}

default _denied_images := []

_denied_images := v if {
	some v in _array_tunables.denied_images
	is_array(v)
}

default _denied_tags_setting := ["latest"]

_denied_tags_setting := v if {
	some v in _array_tunables.denied_tags
	is_array(v)
}

default _allowed_host_namespaces_setting := []

_allowed_host_namespaces_setting := v if {
	some v in _array_tunables.allowed_host_namespaces
	is_array(v)
}

default _allowed_host_ports_setting := []

_allowed_host_ports_setting := v if {
	some v in _array_tunables.allowed_host_ports
	is_array(v)
}

default _allowed_host_paths_setting := []

_allowed_host_paths_setting := v if {
	some v in _array_tunables.allowed_host_paths
	is_array(v)
}

default _exemptions_setting := []

_exemptions_setting := v if {
	some v in _array_tunables.exemptions
	is_array(v)
}

default _disabled_rules_setting := []

_disabled_rules_setting := v if {
	some v in _array_tunables.disabled_rules
	is_array(v)
}

default _enabled_rules_setting := []

_enabled_rules_setting := v if {
	some v in _array_tunables.enabled_rules
	is_array(v)
}

# Array tunables set to something else.
_not_array contains key if {
	some key, values in _array_tunables
	some v in values
	v != null
	not is_array(v)
}

_denied_tags := {t | some t in _denied_tags_setting; is_string(t)}

_allowed_host_namespaces := {n | some n in _allowed_host_namespaces_setting; is_string(n)}

_allowed_host_ports := [r | some r in _allowed_host_ports_setting; is_object(r)]

_allowed_host_paths := [p |
	some p in _allowed_host_paths_setting
	is_object(p)
	is_string(p.pathPrefix)
]

_exemptions := [e | some e in _exemptions_setting; is_object(e)]

_disabled_rules := {r | some r in _disabled_rules_setting}

_require_digest if true in _tunables.require_digest

_automount_modes := {"deny", "warn", "off"}

_privilege_escalation_modes := {"deny", "allow"}

default _automount_mode := "warn"

_automount_mode := v if {
	some v in _tunables.automount_service_account_token
	v != null
}

default _privilege_escalation_unset := "deny"

_privilege_escalation_unset := v if {
	some v in _tunables.privilege_escalation_unset
	v != null
}

_pod_security := v if {
	some v in _tunables.pod_security
	is_object(v)
} else := {}

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

_operation := op if {
	op := object.get(_input, ["request", "operation"], "")
	is_string(op)
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

# "spec" / "spec.template.spec": the pod spec's path in messages.
_spec_path := concat(".", _spec_paths[kind])

# The pod (template) metadata: metadata of a Pod, spec.template.metadata of a
# controller.
_pod_metadata_path := array.concat(array.slice(p, 0, count(p) - 1), ["metadata"]) if {
	p := _spec_paths[kind]
}

_pod_annotations := v if {
	pod_spec
	v := object.get(_object, array.concat(_pod_metadata_path, ["annotations"]), {})
	is_object(v)
} else := {}

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
# string), its field path ("spec.initContainers[0]"), its spec, its image
# (null when absent) and that image parsed (null when it is not a valid
# reference). An array, not a set: sets of objects are compared deeply.
_containers := [{
	"list": list[0],
	"kind": list[1],
	"name": object.get({true: name}, is_string(name), ""),
	"path": sprintf("%s.%s[%d]", [_spec_path, list[0], i]),
	"spec": c,
	"image": image,
	"ref": _parse_image(image),
} |
	spec := pod_spec
	some list in [["containers", "container"], ["initContainers", "init container"], ["ephemeralContainers", "ephemeral container"]]
	items := spec[list[0]]
	is_array(items)
	some i, c in items
	is_object(c)
	name := object.get(c, "name", "")
	image := object.get(c, "image", null)
]

# "init container 'setup' of Deployment payments/api"
_who(c) := sprintf("%s '%s' of %s", [c.kind, c.name, workload])

# ---------------------------------------------------------------------------
# Violations, rule selection and exemptions
# ---------------------------------------------------------------------------

# Every rule adds to _found an object made by _violation (container-level) or
# _pod_violation (pod-level), and first checks that its id is in _on, so that
# a disabled rule costs next to nothing; _active keeps those that no exemption
# covers.
_violation(rule, level, effect, c, text) := {
	"rule": rule,
	"level": level,
	"effect": effect,
	"list": c.list,
	"image": c.image,
	"message": concat("", [rule, ": ", text]),
}

_pod_violation(rule, level, effect, text) := {
	"rule": rule,
	"level": level,
	"effect": effect,
	"list": null,
	"image": null,
	"message": concat("", [rule, ": ", text]),
}

# Every rule id of this package (the pss_* ones are the keys of _pss_controls).
_policy_rule_ids := {
	"privileged_container", "privilege_escalation_allowed", "host_namespace", "host_path_volume",
	"capability_not_allowed", "capability_drop_required", "capability_required_drop_added", "host_port",
	"image_reference_invalid", "image_registry_not_allowed", "image_registry_denied", "image_not_allowed",
	"image_denied", "image_tag_not_pinned", "image_digest_required", "missing_required_labels",
	"run_as_non_root", "missing_resource_limits", "automount_service_account_token",
}

_pss_rule_ids := {id | some id, _ in _pss_controls}

_rule_ids := (_policy_rule_ids | _pss_rule_ids) | _risk_rule_ids # _risk_rule_ids: risk.rego

# The rules to evaluate: enabled_rules (every rule when it is not set; the
# entry "pod_security" stands for every pss_* rule), less disabled_rules. A
# set computed once per query, so that each rule checks it by membership.
_on := (_rule_ids & _listed_rules) - _disabled_rules if {
	some v in _array_tunables.enabled_rules
	is_array(v)
} else := _rule_ids - _disabled_rules

_listed_rules := {id | some id in _enabled_rules_setting} | {id |
	"pod_security" in _enabled_rules_setting
	some id in _pss_rule_ids
}

_absent(e, key) if object.get(e, key, null) == null

_matches(e, key, _) if _absent(e, key)

_matches(e, key, value) if {
	values := e[key]
	is_array(values)
	value in values
}

_matches_image(e, _) if _absent(e, "images")

_matches_image(e, image) if {
	patterns := e.images
	is_array(patterns)
	is_string(image)
	some pattern in patterns
	_image_matches(pattern, image)
}

_exempt(v) if {
	some e in _exemptions
	_exempts(e, v)
}

_exempts(e, v) if {
	_unexpired(e) # risk.rego
	_matches(e, "rules", v.rule)
	_matches(e, "namespaces", _namespace)
	_matches(e, "operations", _operation)
	_matches(e, "kinds", kind)
	_matches(e, "container_lists", v.list)
	_matches_image(e, v.image)
}

# A broken configuration reports only itself: the other rules cannot be
# trusted to mean what the configuration intended.
_config_broken if count(_config_problems) > 0

_active contains v if {
	not _config_broken
	some v in _found
	not _exempt(v)
}

# Violations no configuration can switch off.
_active contains v if some v in _always

deny contains v.message if {
	some v in _active
	v.effect == "deny"
}

warn contains v.message if {
	some v in _active
	v.effect == "warn"
}

# ---------------------------------------------------------------------------
# Glob patterns
# ---------------------------------------------------------------------------

# A pattern without "*" matches the string itself; "*" matches any run of
# characters ("ghcr.io/org/*", "*.example.com").
_glob(pattern, s) if {
	is_string(pattern)
	is_string(s)
	not contains(pattern, "*")
	pattern == s
}

_glob(pattern, s) if {
	is_string(pattern)
	is_string(s)
	contains(pattern, "*")
	escaped := regex.replace(pattern, `[.+?()\[\]{}|^$\\*]`, `\$0`)
	regex.match(concat("", ["^", replace(escaped, `\*`, ".*"), "$"]), s)
}

# An image pattern matches the image as written or its normalised form
# ("nginx" -> "docker.io/library/nginx").
_image_matches(pattern, image) if _glob(pattern, image)

_image_matches(pattern, image) if {
	ref := _parse_image(image)
	ref != null
	_glob(pattern, _normalized_image(ref))
}

_normalized_image(ref) := concat("", [_repository(ref), tag, digest]) if {
	tag := {true: concat("", [":", ref.tag]), false: ""}[ref.tag != ""]
	digest := {true: concat("", ["@", ref.digest]), false: ""}[ref.digest != ""]
}

# ---------------------------------------------------------------------------
# Always-on rules
# ---------------------------------------------------------------------------

_always contains v if {
	not is_object(object.get(_input, "request", null))
	v := _pod_violation("malformed_request", "policy", "deny", "input.request is missing or not an object; expected an AdmissionReview v1 request")
}

_always contains v if {
	some problem in _config_problems
	v := _pod_violation("admission_config_invalid", "policy", "deny", sprintf(
		"%s; every request is denied until data.propolis.admission is fixed",
		[problem],
	))
}

_config_problems contains sprintf("pod_security.default is %v; expected one of %v", [l, sort(_pss_level_names)]) if {
	l := _pod_security.default
	not l in _pss_level_names
}

_config_problems contains sprintf("pod_security.namespaces[%v] is %v; expected one of %v", [ns, l, sort(_pss_level_names)]) if {
	namespaces := _pod_security.namespaces
	is_object(namespaces)
	some ns, l in namespaces
	not l in _pss_level_names
}

_config_problems contains "pod_security.namespaces is not an object" if {
	namespaces := _pod_security.namespaces
	namespaces != null
	not is_object(namespaces)
}

_config_problems contains "pod_security is not an object" if {
	some v in _tunables.pod_security
	v != null
	not is_object(v)
}

_config_problems contains sprintf("%s[%d] %v is neither a valid image reference nor a pattern with '*'", [key, i, p]) if {
	some key, patterns in {"allowed_images": _allowed_images_setting, "denied_images": _denied_images}
	some i, p in patterns
	not _valid_image_pattern(p)
}

_valid_image_pattern(p) if {
	is_string(p)
	contains(p, "*")
}

_valid_image_pattern(p) if _parse_image(p) != null

_config_problems contains sprintf("automount_service_account_token is %v; expected \"deny\", \"warn\" or \"off\"", [m]) if {
	m := _automount_mode
	not m in _automount_modes
}

_config_problems contains sprintf("privilege_escalation_unset is %v; expected \"deny\" or \"allow\"", [m]) if {
	m := _privilege_escalation_unset
	not m in _privilege_escalation_modes
}

_config_problems contains sprintf("%s is not an array", [key]) if some key in _not_array

# A misspelt rule id would silently switch a rule off (enabled_rules) or fail
# to (disabled_rules, exemptions).
_config_problems contains sprintf("%s names unknown rules %v", [where, sort(unknown)]) if {
	some where, ids in {
		"enabled_rules": {id | some id in _enabled_rules_setting},
		"disabled_rules": _disabled_rules,
		"exemptions[*].rules": {id | some e in _exemptions; rules := e.rules; is_array(rules); some id in rules},
	}
	unknown := ids - _known_rule_names
	count(unknown) > 0
}

_known_rule_names := _rule_ids | {"pod_security"}

# ---------------------------------------------------------------------------
# PSP-style rules with allow-lists (disabled by default in data.json: the Pod
# Security Standards rules in pss.rego cover them)
# ---------------------------------------------------------------------------

# privileged_container
_found contains v if {
	"privileged_container" in _on
	some c in _containers
	c.spec.securityContext.privileged == true
	v := _violation("privileged_container", "policy", "deny", c, sprintf(
		"%s runs privileged (full access to the node); set %s.securityContext.privileged to false",
		[_who(c), c.path],
	))
}

# privilege_escalation_allowed: allowPrivilegeEscalation must be false, or,
# with privilege_escalation_unset: "allow", must not be true.
_found contains v if {
	"privilege_escalation_allowed" in _on
	_privilege_escalation_unset != "allow"
	some c in _containers
	not c.spec.securityContext.allowPrivilegeEscalation == false
	v := _violation("privilege_escalation_allowed", "policy", "deny", c, sprintf(
		"%s does not set %s.securityContext.allowPrivilegeEscalation to false",
		[_who(c), c.path],
	))
}

_found contains v if {
	"privilege_escalation_allowed" in _on
	_privilege_escalation_unset == "allow"
	some c in _containers
	c.spec.securityContext.allowPrivilegeEscalation == true
	v := _violation("privilege_escalation_allowed", "policy", "deny", c, sprintf(
		"%s sets %s.securityContext.allowPrivilegeEscalation to true",
		[_who(c), c.path],
	))
}

# host_namespace
_found contains v if {
	"host_namespace" in _on
	some field, value in object.filter(pod_spec, ["hostNetwork", "hostPID", "hostIPC"])
	value == true
	not field in _allowed_host_namespaces
	v := _pod_violation("host_namespace", "policy", "deny", sprintf(
		"%s sets %s.%s: true and would share the node's namespace; remove it (allowed: data.propolis.admission.allowed_host_namespaces %v)",
		[workload, _spec_path, field, sort(_allowed_host_namespaces)],
	))
}

# host_path_volume: a hostPath volume is allowed when its path lies under an
# allowed_host_paths pathPrefix (component-wise: "/foo" covers "/foo/bar",
# not "/foobar"); the most specific matching entries decide whether it must
# be mounted read-only everywhere.
_host_path_volumes contains [i, name, path] if {
	volumes := pod_spec.volumes
	is_array(volumes)
	some i, volume in volumes
	is_object(volume)
	object.get(volume, "hostPath", null) != null
	name := object.get(volume, "name", "")
	path := lib.get_string(volume, ["hostPath", "path"])
}

_under_prefix(path, prefix) if {
	terminated := concat("", [trim_suffix(path, "/"), "/"])
	startswith(terminated, concat("", [trim_suffix(prefix, "/"), "/"]))
}

_matching_host_paths(path) := [p | some p in _allowed_host_paths; _under_prefix(path, p.pathPrefix)]

_most_specific_host_paths(path) := [p |
	matching := _matching_host_paths(path)
	longest := max([count(trim_suffix(q.pathPrefix, "/")) | some q in matching])
	some p in matching
	count(trim_suffix(p.pathPrefix, "/")) == longest
]

_found contains v if {
	"host_path_volume" in _on
	some [i, name, path] in _host_path_volumes
	count(_matching_host_paths(path)) == 0
	v := _pod_violation("host_path_volume", "policy", "deny", sprintf(
		"%s mounts hostPath volume '%v' (%s.volumes[%d].hostPath.path '%s') from the node, which is not under data.propolis.admission.allowed_host_paths; use a configMap, secret, emptyDir or PVC instead",
		[workload, name, _spec_path, i, path],
	))
}

_found contains v if {
	"host_path_volume" in _on
	some [i, name, path] in _host_path_volumes
	entries := _most_specific_host_paths(path)
	count(entries) > 0
	every p in entries {
		p.readOnly == true
	}
	some c in _containers
	mounts := c.spec.volumeMounts
	is_array(mounts)
	some j, mount in mounts
	is_object(mount)
	mount.name == name
	not mount.readOnly == true
	v := _violation("host_path_volume", "policy", "deny", c, sprintf(
		"%s mounts hostPath volume '%v' (path '%s') writable; allowed_host_paths allows it read-only: set %s.volumeMounts[%d].readOnly to true",
		[_who(c), name, path, c.path, j],
	))
}

_normalize_capability(cap) := trim_prefix(upper(cap), "CAP_") if is_string(cap)

else := sprintf("%v", [cap])

_allowed_capability_set := {_normalize_capability(cap) | some cap in _allowed_capabilities}

# capability_not_allowed
_found contains v if {
	"capability_not_allowed" in _on
	not "*" in _allowed_capability_set
	some c in _containers
	added := c.spec.securityContext.capabilities.add
	is_array(added)
	some cap in added
	name := _normalize_capability(cap)
	not name in _allowed_capability_set
	v := _violation("capability_not_allowed", "policy", "deny", c, sprintf(
		"%s adds capability %s in %s.securityContext.capabilities.add; allowed: %v (data.propolis.admission.allowed_capabilities)",
		[_who(c), name, c.path, sort(_allowed_capability_set)],
	))
}

# capability_drop_required: every required capability is dropped (dropping
# ALL drops them all).
_dropped(c) := {_normalize_capability(cap) |
	dropped := c.spec.securityContext.capabilities.drop
	is_array(dropped)
	some cap in dropped
}

_found contains v if {
	"capability_drop_required" in _on
	count(_required_drop_capabilities) > 0
	some c in _containers
	dropped := _dropped(c)
	not "ALL" in dropped
	missing := sort({name |
		some cap in _required_drop_capabilities
		name := _normalize_capability(cap)
		not name in dropped
	})
	count(missing) > 0
	v := _violation("capability_drop_required", "policy", "deny", c, sprintf(
		"%s does not drop %v in %s.securityContext.capabilities.drop (data.propolis.admission.required_drop_capabilities)",
		[_who(c), missing, c.path],
	))
}

# capability_required_drop_added: a container adds a capability of
# required_drop_capabilities.
_found contains v if {
	"capability_required_drop_added" in _on
	count(_required_drop_capabilities) > 0
	some c in _containers
	added := c.spec.securityContext.capabilities.add
	is_array(added)
	required := {_normalize_capability(cap) | some cap in _required_drop_capabilities}
	some cap in added
	_normalize_capability(cap) in required
	v := _violation("capability_required_drop_added", "policy", "deny", c, sprintf(
		"%s adds capability %s in %s.securityContext.capabilities.add, which data.propolis.admission.required_drop_capabilities says must be dropped",
		[_who(c), _normalize_capability(cap), c.path],
	))
}

# host_port: a hostPort other than 0 outside allowed_host_ports.
_host_port_allowed(port) if {
	is_number(port)
	some r in _allowed_host_ports
	is_number(r.min)
	is_number(r.max)
	port >= r.min
	port <= r.max
}

_host_ports contains [c, j, port] if {
	some c in _containers
	ports := c.spec.ports
	is_array(ports)
	some j, p in ports
	is_object(p)
	port := object.get(p, "hostPort", 0)
	port != 0
	port != null
	not _host_port_allowed(port)
}

_found contains v if {
	"host_port" in _on
	some [c, j, port] in _host_ports
	v := _violation("host_port", "policy", "deny", c, sprintf(
		"%s binds host port %v (%s.ports[%d].hostPort) on the node, outside data.propolis.admission.allowed_host_ports; expose it through a Service instead",
		[_who(c), port, c.path, j],
	))
}

# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------

# image_reference_invalid
_found contains v if {
	"image_reference_invalid" in _on
	some c in _containers
	c.ref == null
	v := _violation("image_reference_invalid", "policy", "deny", c, sprintf(
		"%s has image %v (%s.image), which is not a valid image reference",
		[_who(c), c.image, c.path],
	))
}

# Registry list entries, lower-cased and without a trailing "/": registry
# hosts ("registry.example.com"), registry/path prefixes ("ghcr.io/org") or
# glob patterns.
_registry_prefixes(entries) := {prefix |
	some entry in entries
	is_string(entry)
	prefix := trim_suffix(lower(entry), "/")
	prefix != ""
}

_allowed_registry_prefixes := _registry_prefixes(_allowed_registries)

_denied_registry_prefixes := _registry_prefixes(_denied_registries)

# A registry never contains "/": a reference is in a list when its registry is
# an entry, when its repository starts with an entry (with a "/") followed by
# a "/", or when an entry with "*" matches its registry or its repository.
_in_registry_list(ref, prefixes) if ref.registry in prefixes

_in_registry_list(ref, prefixes) if {
	host := concat("", [ref.registry, "/"])
	some prefix in prefixes
	startswith(prefix, host)
	startswith(lower(_repository(ref)), concat("", [prefix, "/"]))
}

_in_registry_list(ref, prefixes) if {
	some prefix in prefixes
	contains(prefix, "*")
	some s in [ref.registry, lower(_repository(ref))]
	_glob(prefix, s)
}

_allow_list_text := sprintf("%v", [_allowed_registries]) if count(_allowed_registries) > 0

else := "(the list is empty, so every image is denied)"

# image_registry_not_allowed
_found contains v if {
	"image_registry_not_allowed" in _on
	some c in _containers
	ref := c.ref
	ref != null
	not ref.registry in _allowed_registry_prefixes
	not _in_registry_list(ref, _allowed_registry_prefixes)
	v := _violation("image_registry_not_allowed", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) from registry '%s', which is not in data.propolis.admission.allowed_registries %s",
		[_who(c), c.image, c.path, ref.registry, _allow_list_text],
	))
}

# image_registry_denied
_found contains v if {
	"image_registry_denied" in _on
	count(_denied_registry_prefixes) > 0
	some c in _containers
	ref := c.ref
	ref != null
	_in_registry_list(ref, _denied_registry_prefixes)
	v := _violation("image_registry_denied", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) from '%s', which data.propolis.admission.denied_registries %v refuses",
		[_who(c), c.image, c.path, _repository(ref), _denied_registries],
	))
}

# image_not_allowed: allowed_images, when set, lists the only images allowed.
_found contains v if {
	"image_not_allowed" in _on
	some allowed in _array_tunables.allowed_images
	is_array(allowed)
	some c in _containers
	c.ref != null
	not _image_in(allowed, c.image)
	v := _violation("image_not_allowed", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image), which matches none of data.propolis.admission.allowed_images %v",
		[_who(c), c.image, c.path, allowed],
	))
}

_image_in(patterns, image) if {
	some pattern in patterns
	_image_matches(pattern, image)
}

# image_denied
_found contains v if {
	"image_denied" in _on
	count(_denied_images) > 0
	some c in _containers
	c.ref != null
	some pattern in _denied_images
	_image_matches(pattern, c.image)
	v := _violation("image_denied", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image), which data.propolis.admission.denied_images refuses (pattern %v)",
		[_who(c), c.image, c.path, pattern],
	))
}

# image_tag_not_pinned: a denied tag (default "latest") or no tag at all, and
# no digest.
_found contains v if {
	"image_tag_not_pinned" in _on
	some c in _containers
	ref := c.ref
	ref.digest == ""
	ref.tag in _denied_tags
	v := _violation("image_tag_not_pinned", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) with the mutable tag '%s'; use a version tag or a digest",
		[_who(c), c.image, c.path, ref.tag],
	))
}

_found contains v if {
	"image_tag_not_pinned" in _on
	some c in _containers
	ref := c.ref
	ref.digest == ""
	ref.tag == ""
	"latest" in _denied_tags
	v := _violation("image_tag_not_pinned", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) without a tag or digest (resolves to 'latest'); use a version tag or a digest",
		[_who(c), c.image, c.path],
	))
}

# image_digest_required (require_digest: true)
_found contains v if {
	"image_digest_required" in _on
	_require_digest
	some c in _containers
	ref := c.ref
	ref.digest == ""
	v := _violation("image_digest_required", "policy", "deny", c, sprintf(
		"%s uses image '%s' (%s.image) without a digest; data.propolis.admission.require_digest asks for image@sha256:...",
		[_who(c), c.image, c.path],
	))
}

# ---------------------------------------------------------------------------
# Labels, resources, service-account token
# ---------------------------------------------------------------------------

# missing_required_labels: the object's own metadata.labels.
_found contains v if {
	"missing_required_labels" in _on
	pod_spec
	labels := object.get(_object, ["metadata", "labels"], {})
	missing := [sprintf("%v", [key]) |
		some key in _required_labels
		not _has_label(labels, key)
	]
	count(missing) > 0
	v := _pod_violation("missing_required_labels", "policy", "deny", sprintf(
		"%s lacks the labels %v in metadata.labels (data.propolis.admission.required_labels)",
		[workload, missing],
	))
}

_has_label(labels, key) if {
	is_object(labels)
	value := labels[key]
	is_string(value)
}

# run_as_non_root: the container securityContext.runAsNonRoot wins over the
# pod-level one, which applies when the container's is not a boolean. With
# runAsNonRoot: true on the pod, only a container that sets false may run as
# root; otherwise every container that does not set true.
_found contains v if {
	"run_as_non_root" in _on
	pod_spec.securityContext.runAsNonRoot == true
	some c in _containers
	c.spec.securityContext.runAsNonRoot == false
	v := _violation("run_as_non_root", "policy", "warn", c, _run_as_root_text(c))
}

_found contains v if {
	"run_as_non_root" in _on
	not pod_spec.securityContext.runAsNonRoot == true
	some c in _containers
	not c.spec.securityContext.runAsNonRoot == true
	v := _violation("run_as_non_root", "policy", "warn", c, _run_as_root_text(c))
}

_run_as_root_text(c) := sprintf(
	"%s may run as root; set securityContext.runAsNonRoot: true on the container (%s) or the pod",
	[_who(c), c.path],
)

# The required limits as keys to look up in resources.limits. A name that is
# not a string is looked up as [[]], which no JSON object has: containers are
# then always checked by the rule below.
_limit_keys := [object.get({true: key}, is_string(key), [[]]) | some key in _required_limits]

# Indexes of the containers (not ephemeral ones: they cannot set resources)
# that may leave a required limit unset (missing or null); the rule below
# finds which. A lookup by reference, like lib.get_object, finds nothing under
# a resources.limits that is not an object.
_lacking_limits contains i if {
	some i, c in _containers
	c.list != "ephemeralContainers"
	some key in _limit_keys
	not c.spec.resources.limits[key] != null
}

# missing_resource_limits
_found contains v if {
	"missing_resource_limits" in _on
	some i in _lacking_limits
	c := _containers[i]
	l := object.get(c.spec, ["resources", "limits"], {})
	limits := object.get({true: l}, is_object(l), {}) # as lib.get_object
	missing := [sprintf("%v", [key]) | some key in _required_limits; object.get(limits, key, null) == null]
	count(missing) > 0
	v := _violation("missing_resource_limits", "policy", "warn", c, sprintf(
		"%s has no %s.resources.limits for %s; set them so one container cannot starve the node",
		[_who(c), c.path, concat(", ", missing)],
	))
}

# automount_service_account_token (deny, warn or off)
_found contains v if {
	"automount_service_account_token" in _on
	pod_spec
	_automount_mode != "off"
	not pod_spec.automountServiceAccountToken == false
	v := _pod_violation("automount_service_account_token", "policy", _automount_mode, sprintf(
		"%s does not set %s.automountServiceAccountToken: false; the Kubernetes API token is mounted into every container",
		[workload, _spec_path],
	))
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

violations := sort([{"rule": v.rule, "level": v.level, "effect": v.effect, "message": v.message} | some v in _active])

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"kind": kind,
	"workload": workload,
	"violations": violations,
	"mode": mode, # risk.rego: enforcement mode, what the webhook answers, exemptions used
	"enforcement": enforcement,
	"exemptions": applied_exemptions,
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

