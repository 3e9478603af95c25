import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from propolis.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyTestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_TEST_STATUS_UNSPECIFIED: _ClassVar[PolicyTestStatus]
    POLICY_TEST_STATUS_PASSED: _ClassVar[PolicyTestStatus]
    POLICY_TEST_STATUS_FAILED: _ClassVar[PolicyTestStatus]
    POLICY_TEST_STATUS_ERROR: _ClassVar[PolicyTestStatus]
    POLICY_TEST_STATUS_SKIPPED: _ClassVar[PolicyTestStatus]

class FailMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAIL_MODE_UNSPECIFIED: _ClassVar[FailMode]
    FAIL_MODE_DENY: _ClassVar[FailMode]
    FAIL_MODE_ALLOW: _ClassVar[FailMode]
    FAIL_MODE_ERROR: _ClassVar[FailMode]
POLICY_TEST_STATUS_UNSPECIFIED: PolicyTestStatus
POLICY_TEST_STATUS_PASSED: PolicyTestStatus
POLICY_TEST_STATUS_FAILED: PolicyTestStatus
POLICY_TEST_STATUS_ERROR: PolicyTestStatus
POLICY_TEST_STATUS_SKIPPED: PolicyTestStatus
FAIL_MODE_UNSPECIFIED: FailMode
FAIL_MODE_DENY: FailMode
FAIL_MODE_ALLOW: FailMode
FAIL_MODE_ERROR: FailMode

class EvaluateRequest(_message.Message):
    __slots__ = ("path", "input_json")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    path: str
    input_json: bytes
    def __init__(self, path: _Optional[str] = ..., input_json: _Optional[bytes] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _common_pb2.Decision
    def __init__(self, decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class EvaluationQuery(_message.Message):
    __slots__ = ("path", "input_json")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    path: str
    input_json: bytes
    def __init__(self, path: _Optional[str] = ..., input_json: _Optional[bytes] = ...) -> None: ...

class EvaluateBatchRequest(_message.Message):
    __slots__ = ("queries",)
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[EvaluationQuery]
    def __init__(self, queries: _Optional[_Iterable[_Union[EvaluationQuery, _Mapping]]] = ...) -> None: ...

class EvaluateBatchResponse(_message.Message):
    __slots__ = ("decisions", "bundle_revision")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_REVISION_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Decision]
    bundle_revision: str
    def __init__(self, decisions: _Optional[_Iterable[_Union[_common_pb2.Decision, _Mapping]]] = ..., bundle_revision: _Optional[str] = ...) -> None: ...

class GetBundleStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DecisionPoint(_message.Message):
    __slots__ = ("name", "path", "on_undefined", "on_error", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ON_UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    on_undefined: FailMode
    on_error: FailMode
    description: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., on_undefined: _Optional[_Union[FailMode, str]] = ..., on_error: _Optional[_Union[FailMode, str]] = ..., description: _Optional[str] = ...) -> None: ...

class GetBundleStatusResponse(_message.Message):
    __slots__ = ("active_revision", "decision_points", "last_reload_error", "last_reload_attempt_at")
    ACTIVE_REVISION_FIELD_NUMBER: _ClassVar[int]
    DECISION_POINTS_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    active_revision: _common_pb2.PolicyRevision
    decision_points: _containers.RepeatedCompositeFieldContainer[DecisionPoint]
    last_reload_error: str
    last_reload_attempt_at: _timestamp_pb2.Timestamp
    def __init__(self, active_revision: _Optional[_Union[_common_pb2.PolicyRevision, _Mapping]] = ..., decision_points: _Optional[_Iterable[_Union[DecisionPoint, _Mapping]]] = ..., last_reload_error: _Optional[str] = ..., last_reload_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReloadBundleRequest(_message.Message):
    __slots__ = ("source_ref",)
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    source_ref: str
    def __init__(self, source_ref: _Optional[str] = ...) -> None: ...

class ReloadBundleResponse(_message.Message):
    __slots__ = ("revision", "previous_revision", "changed")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    revision: _common_pb2.PolicyRevision
    previous_revision: str
    changed: bool
    def __init__(self, revision: _Optional[_Union[_common_pb2.PolicyRevision, _Mapping]] = ..., previous_revision: _Optional[str] = ..., changed: _Optional[bool] = ...) -> None: ...

class TestPoliciesRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: str
    def __init__(self, filter: _Optional[str] = ...) -> None: ...

class PolicyTestResult(_message.Message):
    __slots__ = ("package", "name", "status", "message", "location", "duration_micros")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    DURATION_MICROS_FIELD_NUMBER: _ClassVar[int]
    package: str
    name: str
    status: PolicyTestStatus
    message: str
    location: str
    duration_micros: int
    def __init__(self, package: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[PolicyTestStatus, str]] = ..., message: _Optional[str] = ..., location: _Optional[str] = ..., duration_micros: _Optional[int] = ...) -> None: ...

class TestPoliciesResponse(_message.Message):
    __slots__ = ("bundle_revision", "results", "coverage_percent", "passed", "failed")
    BUNDLE_REVISION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    bundle_revision: str
    results: _containers.RepeatedCompositeFieldContainer[PolicyTestResult]
    coverage_percent: float
    passed: int
    failed: int
    def __init__(self, bundle_revision: _Optional[str] = ..., results: _Optional[_Iterable[_Union[PolicyTestResult, _Mapping]]] = ..., coverage_percent: _Optional[float] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...
