# Shared helpers for the Propolis decision points.
#
# Every helper is total over arbitrary JSON: it never raises a builtin error
# on unexpected types, so that a malformed field produces a clear policy
# reason instead of an evaluation error.
package propolis.lib

import rego.v1

# as_object returns x when it is an object, {} otherwise.
as_object(x) := x if is_object(x)

else := {}

# as_array returns x when it is an array, the sorted elements when it is a
# set, and [] otherwise.
as_array(x) := x if is_array(x)

else := sort(x) if is_set(x)

else := []

# as_string returns x when it is a string, "" otherwise.
as_string(x) := x if is_string(x)

else := ""

# lower_string lower-cases strings and maps anything else to "".
lower_string(x) := lower(x) if is_string(x)

else := ""

# get_object / get_array / get_string: typed object.get with a safe default.
# `path` is a key or an array of keys, as for object.get.
get_object(o, path) := as_object(object.get(as_object(o), path, {}))

get_array(o, path) := as_array(object.get(as_object(o), path, []))

get_string(o, path) := as_string(object.get(as_object(o), path, ""))

# get_number returns the number at path, or fallback when absent or not a number.
get_number(o, path, fallback) := v if {
	v := object.get(as_object(o), path, fallback)
	is_number(v)
} else := fallback

# get_bool returns the boolean at path, or fallback when absent or not a boolean.
get_bool(o, path, fallback) := v if {
	v := object.get(as_object(o), path, fallback)
	is_boolean(v)
} else := fallback

# round2 rounds a number to two decimals (for display and stable comparisons).
round2(x) := round(x * 100) / 100

# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------

_rfc3339_pattern := `^([0-9]{4})-([0-9]{2})-([0-9]{2})T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`

_month_days := {
	"01": "31", "02": "28", "03": "31", "04": "30", "05": "31", "06": "30",
	"07": "31", "08": "31", "09": "30", "10": "31", "11": "30", "12": "31",
}

_leap_year(y) if y % 400 == 0

_leap_year(y) if {
	y % 4 == 0
	y % 100 != 0
}

_max_day(year, month) := "29" if {
	month == "02"
	_leap_year(to_number(year))
} else := _month_days[month]

# valid_rfc3339 holds for strict RFC 3339 timestamps ("2025-01-31T12:00:00Z",
# "2025-01-31T12:00:00.5+02:00") whose date exists and whose instant fits in
# int64 nanoseconds (years 1678..2261). Comparisons on the digit groups are
# string comparisons of fixed-width fields.
valid_rfc3339(s) if {
	is_string(s)
	m := regex.find_all_string_submatch_n(_rfc3339_pattern, s, 1)
	count(m) == 1
	year := m[0][1]
	month := m[0][2]
	day := m[0][3]
	year >= "1678"
	year <= "2261"
	_month_days[month]
	day >= "01"
	day <= _max_day(year, month)
}

# rfc3339_ns parses a timestamp to nanoseconds; undefined when invalid.
rfc3339_ns(s) := time.parse_rfc3339_ns(s) if valid_rfc3339(s)

# now_ns is the instant given by `s` (RFC 3339) or the wall clock when `s`
# is missing or invalid.
now_ns(s) := rfc3339_ns(s) if valid_rfc3339(s)

else := time.now_ns()

# ---------------------------------------------------------------------------
# Container image references
# ---------------------------------------------------------------------------

# [registry/]path[:tag][@algo:hex]; the first path component is a registry
# when it contains "." or ":" or is "localhost" (Docker's rule).
_image_pattern := `^(?:([^/@]*[.:][^/@]*|localhost)/)?([^:@/\s][^:@\s]*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@([A-Za-z0-9+._-]+:[A-Fa-f0-9]+))?$`

_docker_hub_aliases := {"", "docker.io", "index.docker.io", "registry-1.docker.io"}

_normalize_registry(r) := "docker.io" if r in _docker_hub_aliases

else := lower(r)

_normalize_path(registry, p) := concat("/", ["library", p]) if {
	registry == "docker.io"
	not contains(p, "/")
} else := p

# parse_image splits an image reference into
#   {"registry", "path", "repository" (registry/path), "tag", "digest"}
# with Docker Hub normalisation ("nginx" -> docker.io/library/nginx).
# Missing tag or digest are "". Undefined when `ref` is not a valid reference.
parse_image(ref) := result if {
	is_string(ref)
	m := regex.find_all_string_submatch_n(_image_pattern, ref, 1)
	count(m) == 1
	registry := _normalize_registry(m[0][1])
	path := _normalize_path(registry, m[0][2])
	result := {
		"registry": registry,
		"path": path,
		"repository": concat("/", [registry, path]),
		"tag": m[0][3],
		"digest": m[0][4],
	}
}
