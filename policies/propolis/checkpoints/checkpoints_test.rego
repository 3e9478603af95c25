package propolis.checkpoints_test

import rego.v1

import data.propolis.checkpoints

_bars := {
	"ci": {"warn": 40, "block": 75},
	"registry": {"warn": 40, "block": 70},
	"deploy": {"warn": 30, "block": 60},
	"runtime": {"warn": 50, "block": 85},
}

_digest := "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

_image := concat("@", ["registry.propolis.internal/payments/api:1.4.2", _digest])

_now := "2025-03-01T12:00:00Z"

_req(checkpoint, score) := {
	"checkpoint": checkpoint,
	"score": score,
	"namespace": "payments",
	"team": "team-payments",
	"image": _image,
	"now": _now,
}

# Evaluates with reference bars and no overrides or exceptions.
_decide(inp) := d if {
	d := checkpoints.decision with input as inp
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.team_overrides as {}
		with data.propolis.checkpoints.namespace_overrides as {}
		with data.propolis.checkpoints.exceptions as []
}

_with_exceptions(inp, exceptions) := d if {
	d := checkpoints.decision with input as inp
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.team_overrides as {}
		with data.propolis.checkpoints.namespace_overrides as {}
		with data.propolis.checkpoints.exceptions as exceptions
}

_fired(d) := {split(r, ":")[0] | some r in d.reasons}

_exception(patch) := object.union(
	{"owner": "team-payments", "expires": "2025-03-31T00:00:00Z", "reason": "CVE-2024-0001 fix pending upstream"},
	patch,
)

# ---------------------------------------------------------------------------
# Verdicts from bars
# ---------------------------------------------------------------------------

test_score_below_warn_bar_allowed_at_every_checkpoint if {
	every cp in ["ci", "registry", "deploy", "runtime"] {
		d := _decide(_req(cp, 10))
		d.allow == true
		d.verdict == "allow"
		d.reasons == []
		d.checkpoint == cp
		d.exception == null
		d.bar == _bars[cp]
	}
}

test_score_between_bars_warns if {
	d := _decide(_req("deploy", 45))
	d.allow == true
	d.verdict == "warn"
	d.reasons == ["score_above_warn_bar: image registry.propolis.internal/payments/api:1.4.2@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae has risk score 45, above the deploy warn bar 30"]
}

test_score_above_block_bar_blocks if {
	d := _decide(_req("deploy", 61.5))
	d.allow == false
	d.verdict == "block"
	_fired(d) == {"score_above_block_bar"}
	contains(d.reasons[0], "risk score 61.5, above the deploy block bar 60")
}

test_bars_differ_per_checkpoint if {
	_decide(_req("ci", 70)).verdict == "warn"
	_decide(_req("registry", 70)).verdict == "warn"
	_decide(_req("deploy", 70)).verdict == "block"
	_decide(_req("runtime", 70)).verdict == "warn"
	_decide(_req("runtime", 86)).verdict == "block"
}

test_bars_are_exclusive_bounds if {
	_decide(_req("deploy", 30)).verdict == "allow"
	_decide(_req("deploy", 60)).verdict == "warn"
}

test_checkpoint_is_case_insensitive if {
	_decide(_req("DEPLOY", 61)).verdict == "block"
}

test_unknown_checkpoint_blocks if {
	d := _decide(_req("staging", 1))
	d.verdict == "block"
	_fired(d) == {"unknown_checkpoint"}
	d.bar == null
	contains(d.reasons[0], `checkpoint 'staging' is not one of ["ci", "deploy", "registry", "runtime"]`)
}

test_missing_score_blocks if {
	d := _decide(object.remove(_req("ci", 0), ["score"]))
	d.verdict == "block"
	_fired(d) == {"score_missing"}
	d.score == null
	_fired(_decide(_req("ci", "12"))) == {"score_missing"}
}

test_empty_input_blocks if {
	d := _decide({})
	d.verdict == "block"
	_fired(d) == {"unknown_checkpoint", "score_missing"}
	contains(d.reasons[0], "<unknown image>")
}

# ---------------------------------------------------------------------------
# Bars from data and overrides
# ---------------------------------------------------------------------------

test_bars_come_from_data if {
	d := checkpoints.decision with input as _req("deploy", 50)
		with data.propolis.checkpoints.bars as {"deploy": {"warn": 10, "block": 40}}
	d.verdict == "block"
	d.bar == {"warn": 10, "block": 40}
}

test_partial_or_invalid_bar_falls_back_to_defaults if {
	d := checkpoints.decision with input as _req("deploy", 50)
		with data.propolis.checkpoints.bars as {"deploy": {"block": 45, "warn": "high"}}
	d.bar == {"warn": 30, "block": 45}
	d.verdict == "block"
	d2 := checkpoints.decision with input as _req("deploy", 50)
		with data.propolis.checkpoints.bars as "broken"
	d2.bar == {"warn": 30, "block": 60}
}

test_namespace_override if {
	d := checkpoints.decision with input as _req("deploy", 70)
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.namespace_overrides as {"payments": {"deploy": {"block": 80}}}
	d.verdict == "warn"
	d.bar == {"warn": 30, "block": 80}
	contains(d.reasons[0], "deploy warn bar 30 (namespace payments override)")
}

test_namespace_override_only_for_its_checkpoint_and_namespace if {
	overrides := {"payments": {"runtime": {"block": 10}}, "sandbox": {"deploy": {"block": 10}}}
	d := checkpoints.decision with input as _req("deploy", 20)
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.namespace_overrides as overrides
	d.verdict == "allow"
}

test_team_override if {
	d := checkpoints.decision with input as _req("deploy", 25)
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.team_overrides as {"team-payments": {"deploy": {"warn": 20}}}
	d.verdict == "warn"
	contains(d.reasons[0], "(team team-payments override)")
}

test_namespace_override_wins_over_team_override if {
	d := checkpoints.decision with input as _req("deploy", 50)
		with data.propolis.checkpoints.bars as _bars
		with data.propolis.checkpoints.team_overrides as {"team-payments": {"deploy": {"block": 40}}}
		with data.propolis.checkpoints.namespace_overrides as {"payments": {"deploy": {"block": 55}}}
	d.bar.block == 55
	d.verdict == "warn"
}

# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------

test_digest_exception_turns_block_into_warning if {
	e := _exception({"digest": _digest})
	d := _with_exceptions(_req("deploy", 90), [e])
	d.allow == true
	d.verdict == "warn"
	d.exception == e
	d.reasons == [concat("", [
		"exception_applied: image ", _image, " has risk score 90, above the deploy block bar 60, ",
		"allowed by the exception for digest ", _digest,
		" owned by team-payments (CVE-2024-0001 fix pending upstream) until 2025-03-31T00:00:00Z",
	])]
}

test_repository_exception_matches_normalised_names if {
	e := _exception({"repository": "registry.propolis.internal/payments/api"})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "warn"
	hub := _exception({"repository": "nginx"})
	inp := object.union(_req("deploy", 90), {"image": "docker.io/library/nginx:1.27"})
	_with_exceptions(inp, [hub]).verdict == "warn"
}

test_repository_exception_for_other_repository_ignored if {
	e := _exception({"repository": "registry.propolis.internal/payments/worker"})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "block"
}

test_exception_naming_digest_and_repository_needs_both if {
	other := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	e := _exception({"digest": other, "repository": "registry.propolis.internal/payments/api"})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "block"
	both := _exception({"digest": _digest, "repository": "registry.propolis.internal/payments/api"})
	_with_exceptions(_req("deploy", 90), [both]).verdict == "warn"
}

test_exception_without_target_never_matches if {
	_with_exceptions(_req("deploy", 90), [_exception({})]).verdict == "block"
	_with_exceptions(_req("deploy", 90), [_exception({"digest": "", "repository": ""})]).verdict == "block"
}

test_expired_exception_does_not_apply if {
	e := _exception({"digest": _digest, "expires": "2025-02-28T00:00:00Z"})
	d := _with_exceptions(_req("deploy", 90), [e])
	d.verdict == "block"
	d.exception == null
	_fired(d) == {"score_above_block_bar", "exception_expired"}
	some r in d.reasons
	r == concat("", [
		"exception_expired: the exception for digest ", _digest,
		" owned by team-payments (CVE-2024-0001 fix pending upstream) expired at 2025-02-28T00:00:00Z",
	])
}

test_exception_expiring_now_does_not_apply if {
	e := _exception({"digest": _digest, "expires": _now})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "block"
}

test_exception_with_invalid_expiry_is_ignored if {
	every expires in ["next month", "2025-02-30T00:00:00Z", 1767225600, null] {
		d := _with_exceptions(_req("deploy", 90), [_exception({"digest": _digest, "expires": expires})])
		d.verdict == "block"
		_fired(d) == {"score_above_block_bar", "exception_invalid"}
	}
}

test_expiry_uses_timezone_offsets if {
	# 2025-03-01T13:30:00+02:00 is 11:30Z, before now (12:00Z).
	e := _exception({"digest": _digest, "expires": "2025-03-01T13:30:00+02:00"})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "block"
	e2 := _exception({"digest": _digest, "expires": "2025-03-01T14:30:00+02:00"})
	_with_exceptions(_req("deploy", 90), [e2]).verdict == "warn"
}

test_exception_scope_checkpoints_and_namespaces if {
	scoped := _exception({"digest": _digest, "checkpoints": ["runtime"], "namespaces": ["payments"]})
	_with_exceptions(_req("deploy", 90), [scoped]).verdict == "block"
	_with_exceptions(_req("runtime", 90), [scoped]).verdict == "warn"
	other_ns := _exception({"digest": _digest, "namespaces": ["sandbox"]})
	_with_exceptions(_req("deploy", 90), [other_ns]).verdict == "block"
}

test_latest_expiring_exception_reported if {
	soon := _exception({"digest": _digest, "expires": "2025-03-10T00:00:00Z", "owner": "alice"})
	later := _exception({"repository": "registry.propolis.internal/payments/api", "expires": "2025-06-01T00:00:00Z", "owner": "bob"})
	d := _with_exceptions(_req("deploy", 90), [soon, later])
	d.exception.owner == "bob"
	d.verdict == "warn"
}

test_exception_does_not_cover_missing_score if {
	e := _exception({"digest": _digest})
	d := _with_exceptions(object.remove(_req("deploy", 0), ["score"]), [e])
	d.verdict == "block"
	_fired(d) == {"score_missing"}
}

test_exception_not_needed_below_block_bar if {
	e := _exception({"digest": _digest})
	d := _with_exceptions(_req("deploy", 45), [e])
	d.verdict == "warn"
	d.exception == e
	_fired(d) == {"score_above_warn_bar"}
}

test_image_object_form if {
	inp := object.union(_req("deploy", 90), {"image": {
		"registry": "registry.propolis.internal",
		"repository": "payments/api",
		"tag": "1.4.2",
		"digest": _digest,
	}})
	e := _exception({"repository": "registry.propolis.internal/payments/api"})
	d := _with_exceptions(inp, [e])
	d.verdict == "warn"
	contains(d.reasons[0], concat("", ["image registry.propolis.internal/payments/api:1.4.2@", _digest, " has"]))
}

test_malformed_exceptions_ignored if {
	d := _with_exceptions(_req("deploy", 90), ["x", 3, null, {"digest": 5}])
	_fired(d) == {"score_above_block_bar"}
	d2 := _with_exceptions(_req("deploy", 90), {"not": "a list"})
	_fired(d2) == {"score_above_block_bar"}
}

test_missing_now_uses_wall_clock if {
	inp := object.remove(_req("deploy", 90), ["now"])
	_with_exceptions(inp, [_exception({"digest": _digest, "expires": "2200-01-01T00:00:00Z"})]).verdict == "warn"
	_with_exceptions(inp, [_exception({"digest": _digest, "expires": "2000-01-01T00:00:00Z"})]).verdict == "block"
	bad_now := object.union(inp, {"now": "tomorrow"})
	_with_exceptions(bad_now, [_exception({"digest": _digest, "expires": "2000-01-01T00:00:00Z"})]).verdict == "block"
}

test_equal_expiry_exceptions_first_listed_wins if {
	first := _exception({"digest": _digest, "owner": "alice"})
	second := _exception({"repository": "registry.propolis.internal/payments/api", "owner": "bob"})
	_with_exceptions(_req("deploy", 90), [first, second]).exception.owner == "alice"
	_with_exceptions(_req("deploy", 90), [second, first]).exception.owner == "bob"
}

test_exception_without_owner_or_reason if {
	e := {"digest": _digest, "expires": "2025-03-31T00:00:00Z"}
	d := _with_exceptions(_req("deploy", 90), [e])
	d.verdict == "warn"
	contains(d.reasons[0], concat("", ["exception for digest ", _digest, " owned by <unknown> (<unknown>)"]))
}

test_unparsable_exception_repository_never_matches if {
	e := _exception({"repository": "Not A Repository"})
	_with_exceptions(_req("deploy", 90), [e]).verdict == "block"
}

test_image_object_without_tag_or_registry if {
	inp := object.union(_req("deploy", 45), {"image": {"repository": "ghcr.io/propolis/agent", "digest": _digest}})
	d := _decide(inp)
	contains(d.reasons[0], concat("", ["image ghcr.io/propolis/agent@", _digest, " has"]))
}
