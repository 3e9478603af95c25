# Dockerfile checks (`propolis check`): decides whether a Dockerfile follows
# the build rules below, from the facts the CLI's parser gathers.
#
# Input (services/propolis/check/dockerfile.py, dockerfile_facts):
#   {"dockerfile": {
#     "file": "path/Dockerfile",
#     "stages": [{"index", "image" (as written), "resolved" (ARG defaults
#                 substituted), "repository", "tag", "digest", "alias",
#                 "line", "platform", "variable" (uses build arguments),
#                 "scratch", "stage_ref" (FROM an earlier stage),
#                 "base_stage", "user" (last USER of the stage),
#                 "user_line", "effective_user" (user, else the user of the
#                 earlier stage it is built FROM, else "")}],
#     "instructions": [{"cmd", "args", "line", "stage", "flags", "exec",
#                       "heredocs"}],
#     "env": [{"instruction": "ENV" | "ARG", "key", "value" (null: ARG
#              without default), "line", "stage"}],
#     "adds": [{"sources", "dest", "line", "stage", "flags"}],
#     "runs": [{"script" (shell form, exec form joined, heredoc bodies),
#               "line", "stage", "exec_form"}]}}
#
# Entry point: data.propolis.dockerfile.decision
#   {"allow": bool, "reasons": [deny messages], "warnings": [warn messages],
#    "file": string,
#    "violations": [{"rule", "effect" ("deny" | "warn"), "line", "message"}]}
# Every message starts with its rule id and ends with the line it is about.
#
# Rules:
#   root_user            the final stage runs as root: no USER (in it or in
#                        the earlier stage it is built FROM), USER root or 0.
#   add_from_url         ADD with an http(s) URL source (unless it carries
#                        --checksum and add_url_allow_checksum is true).
#   curl_pipe_shell      RUN pipes curl/wget output into a shell
#                        (`curl ... | sh`, `sh -c "$(curl ...)"`,
#                        `bash <(curl ...)`).
#   unpinned_base_image  FROM without a tag or with a denied tag (deny) and
#                        without a digest (warn, or deny with
#                        require_base_digest); FROM an image given by build
#                        arguments (warn: it cannot be checked). FROM scratch
#                        and FROM an earlier stage are fine.
#   secret_in_env        ENV or ARG whose key looks like a secret, with a
#                        non-empty literal value (the value is never echoed).
#   malformed_input, dockerfile_config_invalid   always on.
#
# Tunables (data.propolis.dockerfile, see data.json next to this file):
#   disabled_rules              rule ids never evaluated.
#   denied_tags                 base image tags refused (default ["latest"]).
#   require_base_digest         true: a base image without digest denies.
#   add_url_allow_checksum      true: ADD --checksum=... <url> is allowed.
#   secret_key_patterns         regular expressions (case-insensitive) over
#                               ENV/ARG keys that name secrets.
#   secret_key_exempt_patterns  keys matching one of these are not secrets
#                               (e.g. "_FILE$": a path to a secret file).
# A tunable of the wrong shape denies every Dockerfile with
# dockerfile_config_invalid.
package propolis.dockerfile

import rego.v1

import data.propolis.lib

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

_rule_ids := {"root_user", "add_from_url", "curl_pipe_shell", "unpinned_base_image", "secret_in_env"}

_default_secret_patterns := [
	"PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_?KEY", "PRIVATE_?KEY",
	"ACCESS_?KEY", "CREDENTIAL",
]

_disabled_rules := v if {
	v := data.propolis.dockerfile.disabled_rules
} else := []

_denied_tags := v if {
	v := data.propolis.dockerfile.denied_tags
} else := ["latest"]

_require_base_digest := v if {
	v := data.propolis.dockerfile.require_base_digest
} else := false

_add_url_allow_checksum := v if {
	v := data.propolis.dockerfile.add_url_allow_checksum
} else := true

_secret_patterns := v if {
	v := data.propolis.dockerfile.secret_key_patterns
} else := _default_secret_patterns

_secret_exempt_patterns := v if {
	v := data.propolis.dockerfile.secret_key_exempt_patterns
} else := []

_string_list(x) if {
	is_array(x)
	every s in x {
		is_string(s)
	}
}

_regex_list(x) if {
	_string_list(x)
	every s in x {
		regex.is_valid(concat("", ["(?i)", s]))
	}
}

_config_problems contains sprintf("%s is not an array of strings", [key]) if {
	some key, value in {"disabled_rules": _disabled_rules, "denied_tags": _denied_tags}
	not _string_list(value)
}

_config_problems contains sprintf("%s is not a boolean", [key]) if {
	some key, value in {"require_base_digest": _require_base_digest, "add_url_allow_checksum": _add_url_allow_checksum}
	not is_boolean(value)
}

_config_problems contains sprintf("%s is not an array of valid regular expressions", [key]) if {
	some key, value in {"secret_key_patterns": _secret_patterns, "secret_key_exempt_patterns": _secret_exempt_patterns}
	not _regex_list(value)
}

_on(rule) if {
	_string_list(_disabled_rules)
	not rule in _disabled_rules
}

# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------

_input := input if is_object(input)

else := {}

_df := v if {
	v := object.get(_input, "dockerfile", null)
	is_object(v)
} else := {}

_objects(key) := [x | some x in lib.get_array(_df, key); is_object(x)]

_stages := _objects("stages")

_file := lib.get_string(_df, "file")

_line(x) := n if {
	n := object.get(x, "line", 0)
	is_number(n)
} else := 0

_violation(rule, effect, line, text) := {
	"rule": rule,
	"effect": effect,
	"line": line,
	"message": _message(rule, text, line),
}

_message(rule, text, 0) := concat("", [rule, ": ", text])

_message(rule, text, line) := sprintf("%s: %s (line %v)", [rule, text, line]) if line != 0

# ---------------------------------------------------------------------------
# Always-on rules
# ---------------------------------------------------------------------------

_always contains v if {
	not is_object(object.get(_input, "dockerfile", null))
	v := _violation("malformed_input", "deny", 0, "input.dockerfile is missing or not an object; expected the facts of a Dockerfile")
}

_always contains v if {
	is_object(object.get(_input, "dockerfile", null))
	count(_stages) == 0
	v := _violation("malformed_input", "deny", 0, "the Dockerfile has no FROM instruction")
}

_always contains v if {
	some problem in _config_problems
	v := _violation("dockerfile_config_invalid", "deny", 0, sprintf(
		"%s; every Dockerfile is denied until data.propolis.dockerfile is fixed",
		[problem],
	))
}

# ---------------------------------------------------------------------------
# root_user
# ---------------------------------------------------------------------------

_final := _stages[count(_stages) - 1]

_user_name(u) := lower(trim_space(split(u, ":")[0]))

_root_user(u) if _user_name(u) in {"", "root", "0"}

_violations contains v if {
	_on("root_user")
	user := lib.get_string(_final, "effective_user")
	user == ""
	v := _violation("root_user", "deny", _line(_final), sprintf(
		"the final stage (FROM %s) sets no USER, so the image runs as root; add USER with a non-root user, e.g. USER 65532:65532",
		[lib.get_string(_final, "image")],
	))
}

# The line of the stage's own USER, else of its FROM.
_user_line(s) := n if {
	lib.get_string(s, "user") != ""
	n := lib.get_number(s, "user_line", 0)
	n != 0
} else := _line(s)

_violations contains v if {
	_on("root_user")
	user := lib.get_string(_final, "effective_user")
	user != ""
	_root_user(user)
	v := _violation("root_user", "deny", _user_line(_final), sprintf(
		"the final stage runs as USER %s (root); switch to a non-root user, e.g. USER 65532:65532",
		[user],
	))
}

# ---------------------------------------------------------------------------
# add_from_url
# ---------------------------------------------------------------------------

_checksum_pinned(a) if {
	_add_url_allow_checksum == true
	lib.get_string(lib.get_object(a, "flags"), "checksum") != ""
}

# A URL with its user information (credentials) hidden.
_redact_url(u) := regex.replace(u, `^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@`, "${1}***@")

_violations contains v if {
	_on("add_from_url")
	some a in _objects("adds")
	some src in lib.get_array(a, "sources")
	is_string(src)
	regex.match(`^(?i)https?://`, src)
	not _checksum_pinned(a)
	v := _violation("add_from_url", "deny", _line(a), sprintf(
		"ADD downloads %s without verifying it; download it in a RUN with curl and check its checksum (sha256sum -c), COPY it from the build context, or pin it with ADD --checksum=sha256:...",
		[_redact_url(src)],
	))
}

# ---------------------------------------------------------------------------
# curl_pipe_shell
# ---------------------------------------------------------------------------

_shell := `(\S*/)?(ba|z|a|da|k|fi|mk)?sh`

_pipe_patterns := [
	# curl ... | sh, wget -qO- ... | sudo -E bash -
	concat("", [`(curl|wget)\b[^;&\n]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+(\S+=\S*\s+)*)?`, _shell, `\b`]),
	# sh -c "$(curl ...)", bash -c `wget -O- ...`, bash <(curl ...), eval "$(curl ...)"
	concat("", [`(^|[\s;&|(])(eval|`, _shell, ")\\b[^;&|\\n]*(\\$\\(|`|<\\()\\s*(curl|wget)\\b"]),
	# source <(curl ...), . <(wget -O- ...)
	`(^|[\s;&|(])(source|\.)\s+<\(\s*(curl|wget)\b`,
]

_pipes_to_shell(script) if {
	some p in _pipe_patterns
	regex.match(p, script)
}

_violations contains v if {
	_on("curl_pipe_shell")
	some r in _objects("runs")
	_pipes_to_shell(lib.get_string(r, "script"))
	v := _violation("curl_pipe_shell", "deny", _line(r), "RUN pipes a download from curl/wget straight into a shell; download it to a file, verify its checksum (sha256sum -c) or signature, then run it")
}

# ---------------------------------------------------------------------------
# unpinned_base_image
# ---------------------------------------------------------------------------

# A stage built FROM an external image (not scratch, not an earlier stage).
_external(s) if {
	not object.get(s, "scratch", false) == true
	not object.get(s, "stage_ref", false) == true
}

_variable(s) if object.get(s, "variable", false) == true

_variable(s) if contains(lib.get_string(s, "resolved"), "$")

_violations contains v if {
	_on("unpinned_base_image")
	some s in _stages
	_external(s)
	_variable(s)
	v := _violation("unpinned_base_image", "warn", _line(s), sprintf(
		"FROM %s names its base image with build arguments (default %s); it cannot be checked, and --build-arg can change it",
		[lib.get_string(s, "image"), _or_none(lib.get_string(s, "resolved"))],
	))
}

_or_none("") := "none"

_or_none(s) := s if s != ""

_violations contains v if {
	_on("unpinned_base_image")
	some s in _stages
	_external(s)
	not _variable(s)
	lib.get_string(s, "tag") == ""
	lib.get_string(s, "digest") == ""
	v := _violation("unpinned_base_image", "deny", _line(s), sprintf(
		"FROM %s has neither tag nor digest, so it builds on whatever :latest is; pin a version tag and a digest (image:1.2.3@sha256:...)",
		[lib.get_string(s, "image")],
	))
}

_violations contains v if {
	_on("unpinned_base_image")
	some s in _stages
	_external(s)
	not _variable(s)
	tag := lib.get_string(s, "tag")
	tag in _denied_tags
	lib.get_string(s, "digest") == ""
	v := _violation("unpinned_base_image", "deny", _line(s), sprintf(
		"FROM %s uses the mutable tag %q; pin a version tag and a digest (image:1.2.3@sha256:...)",
		[lib.get_string(s, "image"), tag],
	))
}

_violations contains v if {
	_on("unpinned_base_image")
	some s in _stages
	_external(s)
	not _variable(s)
	tag := lib.get_string(s, "tag")
	tag != ""
	not tag in _denied_tags
	lib.get_string(s, "digest") == ""
	effect := {true: "deny", false: "warn"}[_require_base_digest == true]
	v := _violation("unpinned_base_image", effect, _line(s), sprintf(
		"FROM %s is not pinned by digest, so the tag can move under the build; append @sha256:... (the digest of the image you tested)",
		[lib.get_string(s, "image")],
	))
}

# ---------------------------------------------------------------------------
# secret_in_env
# ---------------------------------------------------------------------------

_secret_key(key) if {
	_regex_list(_secret_patterns)
	some p in _secret_patterns
	regex.match(concat("", ["(?i)", p]), key)
	not _exempt_key(key)
}

_exempt_key(key) if {
	_regex_list(_secret_exempt_patterns)
	some p in _secret_exempt_patterns
	regex.match(concat("", ["(?i)", p]), key)
}

_violations contains v if {
	_on("secret_in_env")
	some e in _objects("env")
	key := lib.get_string(e, "key")
	_secret_key(key)
	value := object.get(e, "value", null)
	is_string(value)
	trim_space(value) != ""
	not contains(value, "$")
	v := _violation("secret_in_env", "deny", _line(e), sprintf(
		"%s %s sets a literal value (redacted) that looks like a secret; ENV and ARG values stay in the image config and history: use a build secret (RUN --mount=type=secret) or set it at run time",
		[lib.get_string(e, "instruction"), key],
	))
}

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

_active := _always | _violations

deny := {v.message | some v in _active; v.effect == "deny"}

warn := {v.message | some v in _active; v.effect == "warn"}

violations := sort([v | some v in _active])

decision := {
	"allow": count(deny) == 0,
	"reasons": sort(deny),
	"warnings": sort(warn),
	"file": _file,
	"violations": violations,
}
