package propolis.lib_test

import rego.v1

import data.propolis.lib

test_as_object if {
	lib.as_object({"a": 1}) == {"a": 1}
	lib.as_object([1]) == {}
	lib.as_object(null) == {}
	lib.as_object("x") == {}
}

test_as_array if {
	lib.as_array([2, 1]) == [2, 1]
	lib.as_array({2, 1}) == [1, 2]
	lib.as_array(null) == []
	lib.as_array({"a": 1}) == []
}

test_as_string if {
	lib.as_string("x") == "x"
	lib.as_string(1) == ""
	lib.lower_string("ABC") == "abc"
	lib.lower_string(true) == ""
}

test_typed_getters if {
	lib.get_object({"a": {"b": {"c": 1}}}, ["a", "b"]) == {"c": 1}
	lib.get_object({"a": "x"}, ["a", "b"]) == {}
	lib.get_object("not an object", "a") == {}
	lib.get_array({"a": [1]}, "a") == [1]
	lib.get_array({"a": 1}, "a") == []
	lib.get_string({"a": {"b": "s"}}, ["a", "b"]) == "s"
	lib.get_string({"a": 3}, "a") == ""
	lib.get_number({"a": 3}, "a", 0) == 3
	lib.get_number({"a": "3"}, "a", 0) == 0
	lib.get_number(null, "a", 7) == 7
	lib.get_bool({"a": false}, "a", true) == false
	lib.get_bool({"a": "false"}, "a", true) == true
}

test_round2 if {
	lib.round2(1.23456) == 1.23
	lib.round2(2) == 2
}

test_valid_rfc3339_accepts if {
	lib.valid_rfc3339("2025-01-31T12:00:00Z")
	lib.valid_rfc3339("2024-02-29T00:00:00Z")
	lib.valid_rfc3339("2000-02-29T00:00:00Z")
	lib.valid_rfc3339("2025-06-30T23:59:59.123456789+02:00")
	lib.valid_rfc3339("2025-06-30T23:59:59-07:30")
}

test_valid_rfc3339_rejects if {
	not lib.valid_rfc3339("2023-02-29T00:00:00Z")
	not lib.valid_rfc3339("1900-02-29T00:00:00Z")
	not lib.valid_rfc3339("2025-04-31T00:00:00Z")
	not lib.valid_rfc3339("2025-13-01T00:00:00Z")
	not lib.valid_rfc3339("2025-00-10T00:00:00Z")
	not lib.valid_rfc3339("2025-01-00T00:00:00Z")
	not lib.valid_rfc3339("2025-01-01T24:00:00Z")
	not lib.valid_rfc3339("2025-01-01 00:00:00Z")
	not lib.valid_rfc3339("2025-01-01")
	not lib.valid_rfc3339("9999-12-31T23:59:59Z")
	not lib.valid_rfc3339("1600-01-01T00:00:00Z")
	not lib.valid_rfc3339("2025-01-01T00:00:00+24:00")
	not lib.valid_rfc3339(1735689600)
	not lib.valid_rfc3339(null)
}

test_rfc3339_ns if {
	lib.rfc3339_ns("2025-01-01T00:00:00Z") == 1735689600000000000
	lib.rfc3339_ns("2025-01-01T02:00:00+02:00") == 1735689600000000000
	not lib.rfc3339_ns("2025-02-30T00:00:00Z")
	not lib.rfc3339_ns(42)
}

test_now_ns_uses_given_time if {
	lib.now_ns("2025-01-01T00:00:00Z") == 1735689600000000000
}

test_now_ns_falls_back_to_clock if {
	# 2020-01-01: any wall clock running these tests is later than this.
	lib.now_ns(null) > 1577836800000000000
	lib.now_ns("yesterday") > 1577836800000000000
}

test_parse_image_docker_hub_short if {
	lib.parse_image("nginx") == {
		"registry": "docker.io", "path": "library/nginx",
		"repository": "docker.io/library/nginx", "tag": "", "digest": "",
	}
}

test_parse_image_docker_hub_aliases if {
	lib.parse_image("index.docker.io/bitnami/redis:7").repository == "docker.io/bitnami/redis"
	lib.parse_image("docker.io/nginx:1.27").repository == "docker.io/library/nginx"
	lib.parse_image("bitnami/redis:7").registry == "docker.io"
}

test_parse_image_full_reference if {
	digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ref := lib.parse_image(concat("", ["registry.propolis.internal/payments/api:1.4.2@", digest]))
	ref.registry == "registry.propolis.internal"
	ref.path == "payments/api"
	ref.repository == "registry.propolis.internal/payments/api"
	ref.tag == "1.4.2"
	ref.digest == digest
}

test_parse_image_registry_with_port if {
	ref := lib.parse_image("localhost:5000/team/app:dev")
	ref.registry == "localhost:5000"
	ref.path == "team/app"
	ref.tag == "dev"
	lib.parse_image("localhost/app").registry == "localhost"
}

test_parse_image_digest_without_tag if {
	ref := lib.parse_image("ghcr.io/propolis/agent@sha256:abcdef")
	ref.tag == ""
	ref.digest == "sha256:abcdef"
}

test_parse_image_invalid if {
	not lib.parse_image("")
	not lib.parse_image("has space:1")
	not lib.parse_image("repo:tag:extra")
	not lib.parse_image(42)
	not lib.parse_image(null)
}
