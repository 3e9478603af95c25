package propolis.ci_test

import rego.v1

import data.propolis.ci

_now := "2025-03-01T12:00:00Z"

_critical := {"id": "CVE-2024-3094", "severity": "critical", "fix_available": true, "package": "xz-utils"}

_high := {"id": "CVE-2023-0286", "severity": "high", "fix_available": true, "package": "openssl"}

_report(findings) := {"findings": findings, "now": _now}

_decide(inp) := d if {
	d := ci.decision with input as inp
		with data.propolis.ci.block_high as false
		with data.propolis.ci.block_unknown as false
		with data.propolis.ci.accepted_advisories as []
		with data.propolis.ci.accepted as []
}

_accepting(inp, advisories) := d if {
	d := ci.decision with input as inp
		with data.propolis.ci.block_high as false
		with data.propolis.ci.block_unknown as false
		with data.propolis.ci.accepted_advisories as advisories
		with data.propolis.ci.accepted as []
}

_advisory(patch) := object.union(
	{"id": "CVE-2024-3094", "expires": "2025-04-01T00:00:00Z", "owner": "team-build", "reason": "vendor backport verified"},
	patch,
)

_fired(messages) := {split(m, ":")[0] | some m in messages}

_passes(d) if {
	d.allow == true
	d.exit_code == 0
	d.reasons == []
	d.blocking_findings == []
}

_blocks(d) if {
	d.allow == false
	d.exit_code == 1
}

# ---------------------------------------------------------------------------
# Basic verdicts
# ---------------------------------------------------------------------------

test_no_findings_passes if {
	d := _decide(_report([]))
	_passes(d)
	d.warnings == []
}

test_fixable_critical_blocks if {
	d := _decide(_report([_critical]))
	_blocks(d)
	d.blocking_findings == ["CVE-2024-3094"]
	d.reasons == ["fixable_finding: CVE-2024-3094 (critical) in package xz-utils has a fix available; upgrade the package, or add a time-boxed entry to data.propolis.ci.accepted_advisories"]
}

test_critical_without_fix_passes if {
	_passes(_decide(_report([object.union(_critical, {"fix_available": false})])))
	_passes(_decide(_report([object.remove(_critical, ["fix_available"])])))
	_passes(_decide(_report([object.union(_critical, {"fix_available": "yes"})])))
}

test_severity_case_insensitive if {
	_blocks(_decide(_report([object.union(_critical, {"severity": "CRITICAL"})])))
}

test_lower_severities_pass if {
	every sev in ["medium", "low", "negligible", "unknown"] {
		_passes(_decide(_report([object.union(_critical, {"severity": sev})])))
	}
}

test_fixable_high_warns_by_default if {
	d := _decide(_report([_high]))
	_passes(d)
	d.warnings == ["fixable_high_finding: CVE-2023-0286 (high) in package openssl has a fix available; not blocking (data.propolis.ci.block_high is false)"]
}

test_fixable_high_blocks_when_configured if {
	d := ci.decision with input as _report([_high, _critical])
		with data.propolis.ci.block_high as true
		with data.propolis.ci.accepted_advisories as []
	_blocks(d)
	d.blocking_findings == ["CVE-2023-0286", "CVE-2024-3094"]
	count(d.reasons) == 2
	d.warnings == []
}

test_invalid_block_high_uses_default if {
	d := ci.decision with input as _report([_high])
		with data.propolis.ci.block_high as "yes"
	d.allow == true
}

test_each_affected_package_reported if {
	d := _decide(_report([_critical, object.union(_critical, {"package": "liblzma5"})]))
	count(d.reasons) == 2
	d.blocking_findings == ["CVE-2024-3094"]
}

test_missing_findings_blocks if {
	d := _decide({"now": _now})
	_blocks(d)
	_fired(d.reasons) == {"findings_missing"}
	_fired(_decide({"findings": "none"}).reasons) == {"findings_missing"}
	_fired(_decide({}).reasons) == {"findings_missing"}
}

test_malformed_findings_ignored if {
	d := _decide(_report([null, "CVE-1", 7, {"severity": 3}, {"id": "CVE-2", "severity": "critical", "fix_available": true}]))
	_blocks(d)
	d.blocking_findings == ["CVE-2"]
	contains(d.reasons[0], "CVE-2 (critical) in package <unknown package>")
}

test_finding_without_id_reported if {
	d := _decide(_report([object.remove(_critical, ["id"])]))
	d.blocking_findings == ["<no id>"]
}

# ---------------------------------------------------------------------------
# Accepted advisories
# ---------------------------------------------------------------------------

test_accepted_advisory_lets_finding_through if {
	d := _accepting(_report([_critical]), [_advisory({})])
	_passes(d)
	d.warnings == ["accepted_advisory: CVE-2024-3094 (critical) in package xz-utils has a fix available but is accepted by team-build until 2025-04-01T00:00:00Z (vendor backport verified)"]
}

test_advisory_id_case_insensitive if {
	_passes(_accepting(_report([_critical]), [_advisory({"id": "cve-2024-3094"})]))
}

test_advisory_for_other_id_does_not_apply if {
	_blocks(_accepting(_report([_critical]), [_advisory({"id": "CVE-2024-0001"})]))
}

test_advisory_package_scope if {
	_passes(_accepting(_report([_critical]), [_advisory({"package": "xz-utils"})]))
	d := _accepting(_report([_critical]), [_advisory({"package": "liblzma5"})])
	_blocks(d)
	_fired(d.reasons) == {"fixable_finding"}
}

test_expired_advisory_does_not_apply if {
	d := _accepting(_report([_critical]), [_advisory({"expires": "2025-02-01T00:00:00Z"})])
	_blocks(d)
	_fired(d.reasons) == {"fixable_finding", "accepted_advisory_expired"}
	some r in d.reasons
	r == "accepted_advisory_expired: the acceptance of CVE-2024-3094 (critical) in package xz-utils expired at 2025-02-01T00:00:00Z (owner team-build)"
}

test_advisory_expiring_exactly_now_does_not_apply if {
	_blocks(_accepting(_report([_critical]), [_advisory({"expires": _now})]))
}

test_expired_and_active_advisory_active_wins if {
	advisories := [_advisory({"expires": "2025-02-01T00:00:00Z"}), _advisory({"expires": "2025-05-01T00:00:00Z"})]
	d := _accepting(_report([_critical]), advisories)
	_passes(d)
	_fired(d.warnings) == {"accepted_advisory"}
}

test_advisory_with_invalid_expiry_is_ignored if {
	every expires in ["soon", "2025-02-30T00:00:00Z", 20250401, null] {
		d := _accepting(_report([_critical]), [_advisory({"expires": expires})])
		_blocks(d)
		_fired(d.reasons) == {"fixable_finding", "accepted_advisory_invalid"}
	}
	d := _accepting(_report([_critical]), [object.remove(_advisory({}), ["expires"])])
	_fired(d.reasons) == {"fixable_finding", "accepted_advisory_invalid"}
}

test_malformed_advisories_ignored if {
	_blocks(_accepting(_report([_critical]), [null, "CVE-2024-3094", {"id": 5}, {"expires": "2030-01-01T00:00:00Z"}]))
	d := ci.decision with input as _report([_critical])
		with data.propolis.ci.accepted_advisories as {"CVE-2024-3094": true}
	_blocks(d)
}

test_missing_now_uses_wall_clock if {
	inp := {"findings": [_critical]}
	_passes(_accepting(inp, [_advisory({"expires": "2200-01-01T00:00:00Z"})]))
	_blocks(_accepting(inp, [_advisory({"expires": "2001-01-01T00:00:00Z"})]))
	_blocks(_accepting({"findings": [_critical], "now": 12}, [_advisory({"expires": "2001-01-01T00:00:00Z"})]))
}

test_reasons_and_warnings_sorted if {
	d := _accepting(
		_report([_critical, _high, {"id": "CVE-2022-0001", "severity": "critical", "fix_available": true, "package": "zlib"}]),
		[_advisory({"expires": "2025-01-01T00:00:00Z"})],
	)
	d.reasons == sort(d.reasons)
	d.warnings == sort(d.warnings)
	d.blocking_findings == ["CVE-2022-0001", "CVE-2024-3094"]
	count(d.reasons) == 3
}

test_advisory_without_owner_or_reason if {
	d := _accepting(_report([_critical]), [{"id": "CVE-2024-3094", "expires": "2025-04-01T00:00:00Z"}])
	_passes(d)
	d.warnings == ["accepted_advisory: CVE-2024-3094 (critical) in package xz-utils has a fix available but is accepted by <unknown> until 2025-04-01T00:00:00Z (<unknown>)"]
}

# ---------------------------------------------------------------------------
# Scan findings as `propolis scan` sends them
# ---------------------------------------------------------------------------

_scan_finding := {
	"id": "CVE-2018-18074",
	"aliases": ["GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"],
	"severity": "critical",
	"cvss_score": 9.8,
	"fixed_version": "2.20.0",
	"state": "fixed",
	"package": {"name": "requests", "version": "2.19.1", "ecosystem": "pypi", "purl": "pkg:pypi/requests@2.19.1"},
}

_with(patch) := object.union(_scan_finding, patch)

# _gate evaluates with the newer `accepted` list (and block flags) pinned.
_gate(findings, accepted, block_high, block_unknown) := d if {
	d := ci.decision with input as {"findings": findings, "now": _now, "summary": {"total": count(findings)}}
		with data.propolis.ci.block_high as block_high
		with data.propolis.ci.block_unknown as block_unknown
		with data.propolis.ci.accepted_advisories as []
		with data.propolis.ci.accepted as accepted
}

_entry(patch) := object.union({"id": "CVE-2018-18074", "expires": "2025-06-30", "reason": "not reachable: no proxies"}, patch)

test_scan_finding_with_fix_blocks_and_names_the_upgrade if {
	d := _gate([_scan_finding], [], false, false)
	_blocks(d)
	d.blocking_findings == ["CVE-2018-18074"]
	d.reasons == ["fixable_finding: CVE-2018-18074 (critical) [aliases: GHSA-x84v-xcm2-53pg, PYSEC-2018-28] in package requests 2.19.1 has a fix available; upgrade requests to 2.20.0 or later, or add a time-boxed entry to data.propolis.ci.accepted"]
}

test_scan_finding_states_without_fix_do_not_block if {
	every state in ["unfixed", "will-not-fix", "end-of-life", "unverifiable"] {
		d := _gate([_with({"state": state, "fixed_version": ""})], [], true, true)
		_passes(d)
		d.warnings == [sprintf("unfixed_finding: CVE-2018-18074 (critical) [aliases: GHSA-x84v-xcm2-53pg, PYSEC-2018-28] in package requests 2.19.1 has no fix available (state %s); not blocking", [state])]
	}

	# a fixed version alone is not enough when the state says it will not be fixed here
	_passes(_gate([_with({"state": "will-not-fix"})], [], false, false))
}

test_scan_finding_state_absent_with_fixed_version_blocks if {
	_blocks(_gate([object.remove(_scan_finding, ["state"])], [], false, false))
}

test_unfixed_low_is_silent if {
	d := _gate([_with({"severity": "low", "state": "unfixed", "fixed_version": ""})], [], false, false)
	_passes(d)
	d.warnings == []
}

test_fixable_high_blocks_with_block_high if {
	high := _with({"severity": "high"})
	_passes(_gate([high], [], false, false))
	d := _gate([high], [], true, false)
	_blocks(d)
	_fired(d.reasons) == {"fixable_finding"}
}

test_unrated_fixable_blocks_only_with_block_unknown if {
	every sev in ["unknown", "", "bogus"] {
		f := _with({"severity": sev})
		_passes(_gate([f], [], true, false))
		_blocks(_gate([f], [], false, true))
	}
	_blocks(_gate([object.remove(_scan_finding, ["severity"])], [], false, true))
	_passes(_gate([_with({"severity": "medium"})], [], true, true))
}

test_accepted_by_id_with_date_expiry if {
	d := _gate([_scan_finding], [_entry({})], false, false)
	_passes(d)
	d.warnings == ["accepted_advisory: CVE-2018-18074 (critical) [aliases: GHSA-x84v-xcm2-53pg, PYSEC-2018-28] in package requests 2.19.1 has a fix available but is accepted by <unknown> until 2025-06-30 (not reachable: no proxies)"]
}

test_accepted_by_alias if {
	_passes(_gate([_scan_finding], [_entry({"id": "GHSA-x84v-xcm2-53pg"})], false, false))
	_passes(_gate([_scan_finding], [_entry({"id": "pysec-2018-28"})], false, false))
	_blocks(_gate([_scan_finding], [_entry({"id": "GHSA-0000-0000-0000"})], false, false))
	_blocks(_gate([object.remove(_scan_finding, ["aliases"])], [_entry({"id": "PYSEC-2018-28"})], false, false))
}

test_accepted_entry_expired_blocks_again if {
	d := _gate([_scan_finding], [_entry({"expires": "2025-02-28"})], false, false)
	_blocks(d)
	_fired(d.reasons) == {"fixable_finding", "accepted_advisory_expired"}
	some r in d.reasons
	startswith(r, "accepted_advisory_expired: the acceptance of CVE-2018-18074 (critical)")
	endswith(r, "expired at 2025-02-28 (owner <unknown>)")
}

test_date_expiry_ends_at_the_start_of_that_day if {
	# now is 2025-03-01T12:00:00Z: an entry expiring on 2025-03-01 has stopped applying.
	_blocks(_gate([_scan_finding], [_entry({"expires": "2025-03-01"})], false, false))
	_passes(_gate([_scan_finding], [_entry({"expires": "2025-03-02"})], false, false))
}

test_invalid_date_expiry_is_ignored if {
	every expires in ["2025-02-30", "2025-3-31", "31/03/2025", ""] {
		d := _gate([_scan_finding], [_entry({"expires": expires})], false, false)
		_blocks(d)
		_fired(d.reasons) == {"fixable_finding", "accepted_advisory_invalid"}
	}
}

test_accepted_package_scope_by_name_or_purl if {
	_passes(_gate([_scan_finding], [_entry({"package": "requests"})], false, false))
	_passes(_gate([_scan_finding], [_entry({"package": "pkg:pypi/requests@2.19.1"})], false, false))
	_blocks(_gate([_scan_finding], [_entry({"package": "urllib3"})], false, false))
}

test_both_accepted_lists_apply if {
	d := ci.decision with input as {"findings": [_scan_finding, _critical], "now": _now}
		with data.propolis.ci.block_high as false
		with data.propolis.ci.block_unknown as false
		with data.propolis.ci.accepted_advisories as [_advisory({})]
		with data.propolis.ci.accepted as [_entry({})]
	_passes(d)
	count(d.warnings) == 2
}

test_invalid_block_unknown_uses_default if {
	d := ci.decision with input as {"findings": [_with({"severity": "unknown"})], "now": _now}
		with data.propolis.ci.block_unknown as "yes"
		with data.propolis.ci.accepted as []
	d.allow == true
}

test_malformed_accepted_list_ignored if {
	d := ci.decision with input as {"findings": [_scan_finding], "now": _now}
		with data.propolis.ci.accepted as {"CVE-2018-18074": "2030-01-01"}
		with data.propolis.ci.accepted_advisories as []
	_blocks(d)
}

test_malformed_aliases_and_package_object if {
	f := object.union(object.remove(_scan_finding, ["package"]), {"aliases": [7, null, "", "GHSA-x84v-xcm2-53pg"], "package": {"name": 3}})
	d := _gate([f], [], false, false)
	_blocks(d)
	contains(d.reasons[0], "[aliases: GHSA-x84v-xcm2-53pg] in package <unknown package> has a fix available")
	_passes(_gate([f], [_entry({"id": "GHSA-x84v-xcm2-53pg"})], false, false))
}
