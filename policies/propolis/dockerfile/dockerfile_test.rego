package propolis.dockerfile_test

import rego.v1

import data.propolis.dockerfile

# A compliant Dockerfile's facts: a pinned builder, a pinned runtime stage
# that runs as a non-root user.
_builder := {
	"index": 0, "image": "golang:1.22@sha256:aaaa", "resolved": "golang:1.22@sha256:aaaa",
	"repository": "golang", "tag": "1.22", "digest": "sha256:aaaa", "alias": "build", "line": 1,
	"platform": "", "variable": false, "scratch": false, "stage_ref": false, "base_stage": -1,
	"user": "", "user_line": 0, "effective_user": "",
}

_runtime := {
	"index": 1, "image": "gcr.io/distroless/static:nonroot@sha256:bbbb",
	"resolved": "gcr.io/distroless/static:nonroot@sha256:bbbb", "repository": "gcr.io/distroless/static",
	"tag": "nonroot", "digest": "sha256:bbbb", "alias": "", "line": 5, "platform": "", "variable": false,
	"scratch": false, "stage_ref": false, "base_stage": -1, "user": "65532:65532", "user_line": 7,
	"effective_user": "65532:65532",
}

_good := {
	"file": "Dockerfile",
	"stages": [_builder, _runtime],
	"env": [
		{"instruction": "ENV", "key": "CGO_ENABLED", "value": "0", "line": 2, "stage": 0},
		{"instruction": "ARG", "key": "GITHUB_TOKEN", "value": null, "line": 3, "stage": 0},
	],
	"adds": [{"sources": ["vendor.tar.gz"], "dest": "/src/", "line": 4, "stage": 0, "flags": {}}],
	"runs": [{"script": "go build -o /app ./cmd/app", "line": 4, "stage": 0, "exec_form": false}],
}

_with(patch) := {"dockerfile": object.union(_good, patch)}

_defaults := {
	"disabled_rules": [],
	"denied_tags": ["latest"],
	"require_base_digest": false,
	"add_url_allow_checksum": true,
	"secret_key_patterns": ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_?KEY", "PRIVATE_?KEY", "ACCESS_?KEY", "CREDENTIAL"],
	"secret_key_exempt_patterns": ["_(FILE|PATH|DIR)$"],
}

_decide(inp) := _decide_with(inp, {})

_decide_with(inp, patch) := d if {
	cfg := object.union(_defaults, patch)
	d := dockerfile.decision with input as inp
		with data.propolis.dockerfile.disabled_rules as cfg.disabled_rules
		with data.propolis.dockerfile.denied_tags as cfg.denied_tags
		with data.propolis.dockerfile.require_base_digest as cfg.require_base_digest
		with data.propolis.dockerfile.add_url_allow_checksum as cfg.add_url_allow_checksum
		with data.propolis.dockerfile.secret_key_patterns as cfg.secret_key_patterns
		with data.propolis.dockerfile.secret_key_exempt_patterns as cfg.secret_key_exempt_patterns
}

_rules(d, effect) := {v.rule | some v in d.violations; v.effect == effect}

_denied_only_by(d, rule) if {
	d.allow == false
	_rules(d, "deny") == {rule}
}

_run(script) := _with({"runs": [{"script": script, "line": 9, "stage": 1, "exec_form": false}]})

_env(instruction, key, value) := _with({"env": [{"instruction": instruction, "key": key, "value": value, "line": 6, "stage": 1}]})

_stage(patch) := object.union(_runtime, patch)

# ---------------------------------------------------------------------------
# A good Dockerfile, the shape of the decision
# ---------------------------------------------------------------------------

test_good_dockerfile_allowed if {
	d := _decide({"dockerfile": _good})
	d.allow == true
	d.reasons == []
	d.warnings == []
	d.violations == []
	d.file == "Dockerfile"
}

test_messages_start_with_rule_and_end_with_line if {
	d := _decide(_with({"stages": [_builder, _stage({"user": "", "effective_user": ""})]}))
	d.reasons == ["root_user: the final stage (FROM gcr.io/distroless/static:nonroot@sha256:bbbb) sets no USER, so the image runs as root; add USER with a non-root user, e.g. USER 65532:65532 (line 5)"]
	d.violations == [{"rule": "root_user", "effect": "deny", "line": 5, "message": d.reasons[0]}]
}

test_empty_and_malformed_input_denied if {
	every inp in [{}, [], "x", null, {"dockerfile": "x"}, {"dockerfile": {}}, {"dockerfile": {"stages": []}}] {
		d := _decide(inp)
		d.allow == false
		_rules(d, "deny") == {"malformed_input"}
	}
}

test_garbage_fields_do_not_error if {
	d := _decide({"dockerfile": {"stages": [1, "x", {"line": "x"}], "env": 3, "adds": [{"sources": 1}], "runs": [{"script": 2}]}})
	is_boolean(d.allow)
	d.allow == false
}

# ---------------------------------------------------------------------------
# root_user
# ---------------------------------------------------------------------------

test_root_user_no_user if _denied_only_by(_decide(_with({"stages": [_builder, _stage({"user": "", "effective_user": ""})]})), "root_user")

test_root_user_explicit_root if {
	every user in ["root", "0", "0:0", "root:root", " ROOT "] {
		d := _decide(_with({"stages": [_builder, _stage({"user": user, "effective_user": user, "user_line": 8})]}))
		_denied_only_by(d, "root_user")
		d.violations[0].line == 8
	}
}

test_root_user_inherited_from_stage_line_is_from if {
	d := _decide(_with({"stages": [_builder, _stage({"user": "", "user_line": 0, "effective_user": "root"})]}))
	_denied_only_by(d, "root_user")
	d.violations[0].line == 5
}

test_non_root_user_allowed if {
	every user in ["app", "1000", "1000:0", "nobody:nogroup", "${UID}"] {
		d := _decide(_with({"stages": [_builder, _stage({"user": user, "effective_user": user})]}))
		d.allow == true
	}
}

test_only_final_stage_user_matters if {
	d := _decide(_with({"stages": [object.union(_builder, {"user": "root", "effective_user": "root"}), _runtime]}))
	d.allow == true
}

# ---------------------------------------------------------------------------
# add_from_url
# ---------------------------------------------------------------------------

_add(sources, flags) := _with({"adds": [{"sources": sources, "dest": "/opt/", "line": 6, "stage": 1, "flags": flags}]})

test_add_from_url_denied if {
	every src in ["https://example.com/tool.tgz", "http://example.com/x", "HTTPS://EXAMPLE.COM/x"] {
		_denied_only_by(_decide(_add(["local.txt", src], {})), "add_from_url")
	}
}

test_add_from_url_redacts_credentials if {
	d := _decide(_add(["https://user:hunter2@example.com/x.tgz"], {}))
	_denied_only_by(d, "add_from_url")
	not contains(d.reasons[0], "hunter2")
	contains(d.reasons[0], "https://***@example.com/x.tgz")
}

test_add_local_files_allowed if _decide(_add(["app.tar.gz", "ftp-notes.txt"], {})).allow

test_add_url_with_checksum if {
	_decide(_add(["https://example.com/x"], {"checksum": "sha256:abcd"})).allow
	d := _decide_with(_add(["https://example.com/x"], {"checksum": "sha256:abcd"}), {"add_url_allow_checksum": false})
	_denied_only_by(d, "add_from_url")
}

# ---------------------------------------------------------------------------
# curl_pipe_shell
# ---------------------------------------------------------------------------

test_curl_pipe_shell_denied if {
	every script in [
		"curl -fsSL https://get.example.com | sh",
		"curl -fsSL https://get.example.com | sh -s -- -y",
		"wget -O- https://x.example.com/install | bash",
		"wget -qO- https://x | sudo -E bash -",
		"apt-get update && curl -s https://x | /bin/bash",
		"curl https://x | env FOO=1 bash",
		"sh -c \"$(curl -fsSL https://raw.example.com/install.sh)\"",
		"bash -c \"$(wget -qO- https://x)\"",
		"bash <(curl -s https://x)",
		"eval \"$(curl -s https://x)\"",
		"source <(curl -s https://x)",
		"sh -c `curl -s https://x`",
		"set -e\nwget -qO- https://y | zsh\n",
	] {
		_denied_only_by(_decide(_run(script)), "curl_pipe_shell")
	}
}

test_curl_to_file_allowed if {
	every script in [
		"curl -fsSLo /tmp/i.sh https://x && echo 'abc  /tmp/i.sh' | sha256sum -c && sh /tmp/i.sh",
		"curl -fsSL https://x | tar -xz -C /opt",
		"wget -qO- https://x | gunzip > /tmp/f",
		"curl -s https://x | shasum -a 256",
		"sh ./install.sh",
		"bash -c 'echo curl'",
	] {
		_decide(_run(script)).allow
	}
}

# ---------------------------------------------------------------------------
# unpinned_base_image
# ---------------------------------------------------------------------------

_from(patch) := _with({"stages": [object.union(_builder, patch), _runtime]})

test_from_without_tag_denied if {
	d := _decide(_from({"image": "golang", "resolved": "golang", "tag": "", "digest": ""}))
	_denied_only_by(d, "unpinned_base_image")
	d.violations[0].line == 1
	contains(d.reasons[0], "neither tag nor digest")
}

test_from_latest_denied if {
	d := _decide(_from({"image": "golang:latest", "resolved": "golang:latest", "tag": "latest", "digest": ""}))
	_denied_only_by(d, "unpinned_base_image")
	contains(d.reasons[0], "\"latest\"")
}

test_from_latest_with_digest_allowed if _decide(_from({"tag": "latest", "digest": "sha256:aaaa"})).allow

test_from_digest_only_allowed if _decide(_from({"tag": "", "digest": "sha256:aaaa"})).allow

test_from_without_digest_warns if {
	d := _decide(_from({"image": "golang:1.22", "resolved": "golang:1.22", "digest": ""}))
	d.allow == true
	_rules(d, "warn") == {"unpinned_base_image"}
	count(d.warnings) == 1
	contains(d.warnings[0], "not pinned by digest")
}

test_require_base_digest_denies if {
	d := _decide_with(_from({"digest": ""}), {"require_base_digest": true})
	_denied_only_by(d, "unpinned_base_image")
	d.warnings == []
}

test_denied_tags_configurable if {
	_denied_only_by(_decide_with(_from({"tag": "edge", "digest": ""}), {"denied_tags": ["latest", "edge"]}), "unpinned_base_image")
}

test_scratch_and_stage_refs_allowed if {
	scratch := _stage({"image": "scratch", "resolved": "scratch", "repository": "scratch", "tag": "", "digest": "", "scratch": true})
	ref := _stage({"image": "build", "resolved": "build", "repository": "build", "tag": "", "digest": "", "stage_ref": true, "base_stage": 0})
	_decide(_with({"stages": [_builder, scratch]})).allow
	_decide(_with({"stages": [_builder, ref]})).allow
}

test_variable_base_image_warns if {
	d := _decide(_from({"image": "$BASE", "resolved": "golang:1.22@sha256:aaaa", "variable": true}))
	d.allow == true
	_rules(d, "warn") == {"unpinned_base_image"}
	contains(d.warnings[0], "build arguments")
}

test_unresolved_variable_warns_not_denies if {
	d := _decide(_from({"image": "${REG}/golang", "resolved": "$REG/golang", "tag": "", "digest": "", "variable": false}))
	d.allow == true
	_rules(d, "warn") == {"unpinned_base_image"}
}

# ---------------------------------------------------------------------------
# secret_in_env
# ---------------------------------------------------------------------------

test_secret_in_env_denied_and_redacted if {
	every key in ["DB_PASSWORD", "api_key", "APIKEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "SSH_PRIVATE_KEY", "AWS_ACCESS_KEY_ID", "GOOGLE_CREDENTIALS", "MYSQL_ROOT_PASSWD"] {
		every instruction in ["ENV", "ARG"] {
			d := _decide(_env(instruction, key, "s3cr3t-value"))
			_denied_only_by(d, "secret_in_env")
			not contains(d.reasons[0], "s3cr3t-value")
			contains(d.reasons[0], key)
			d.violations[0].line == 6
		}
	}
}

test_secret_keys_without_literal_value_allowed if {
	every value in [null, "", "  ", "$DB_PASSWORD", "${TOKEN}"] {
		_decide(_env("ENV", "DB_PASSWORD", value)).allow
	}
}

test_secret_exempt_and_plain_keys_allowed if {
	every key in ["POSTGRES_PASSWORD_FILE", "TOKEN_PATH", "SECRETS_DIR", "PATH", "HOME", "AUTHOR"] {
		_decide(_env("ENV", key, "value")).allow
	}
}

test_secret_patterns_configurable if {
	_denied_only_by(_decide_with(_env("ENV", "MY_PIN", "1234"), {"secret_key_patterns": ["_PIN$"]}), "secret_in_env")
	_decide_with(_env("ENV", "DB_PASSWORD", "x"), {"secret_key_patterns": ["_PIN$"]}).allow
}

# ---------------------------------------------------------------------------
# Tunables
# ---------------------------------------------------------------------------

test_disabled_rules if {
	inp := _with({"stages": [_builder, _stage({"user": "", "effective_user": ""})]})
	_decide_with(inp, {"disabled_rules": ["root_user"]}).allow
}

test_null_tunables_deny_everything if {
	d := dockerfile.decision with input as _from({"tag": "latest", "digest": ""})
		with data.propolis.dockerfile.denied_tags as null
		with data.propolis.dockerfile.secret_key_patterns as null
	d.allow == false
	"dockerfile_config_invalid" in _rules(d, "deny")
}

test_bad_config_denies_everything if {
	every cfg in [
		{"denied_tags": "latest"},
		{"disabled_rules": [1]},
		{"require_base_digest": "yes"},
		{"add_url_allow_checksum": 1},
		{"secret_key_patterns": ["("]},
		{"secret_key_exempt_patterns": "x"},
	] {
		d := _decide_with({"dockerfile": _good}, cfg)
		d.allow == false
		"dockerfile_config_invalid" in _rules(d, "deny")
	}
}

test_repository_data_is_valid if {
	d := dockerfile.decision with input as {"dockerfile": _good}
	d.allow == true
}
