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

class ControlStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTROL_STATUS_UNSPECIFIED: _ClassVar[ControlStatus]
    CONTROL_STATUS_PASSED: _ClassVar[ControlStatus]
    CONTROL_STATUS_FAILED: _ClassVar[ControlStatus]
    CONTROL_STATUS_MANUAL: _ClassVar[ControlStatus]
    CONTROL_STATUS_NOT_APPLICABLE: _ClassVar[ControlStatus]
    CONTROL_STATUS_ERROR: _ClassVar[ControlStatus]

class CredentialProtocol(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_PROTOCOL_UNSPECIFIED: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_SSH: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_HTTP_BASIC: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_POSTGRES: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_MYSQL: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_REDIS: _ClassVar[CredentialProtocol]
    CREDENTIAL_PROTOCOL_MONGODB: _ClassVar[CredentialProtocol]
CONTROL_STATUS_UNSPECIFIED: ControlStatus
CONTROL_STATUS_PASSED: ControlStatus
CONTROL_STATUS_FAILED: ControlStatus
CONTROL_STATUS_MANUAL: ControlStatus
CONTROL_STATUS_NOT_APPLICABLE: ControlStatus
CONTROL_STATUS_ERROR: ControlStatus
CREDENTIAL_PROTOCOL_UNSPECIFIED: CredentialProtocol
CREDENTIAL_PROTOCOL_SSH: CredentialProtocol
CREDENTIAL_PROTOCOL_HTTP_BASIC: CredentialProtocol
CREDENTIAL_PROTOCOL_POSTGRES: CredentialProtocol
CREDENTIAL_PROTOCOL_MYSQL: CredentialProtocol
CREDENTIAL_PROTOCOL_REDIS: CredentialProtocol
CREDENTIAL_PROTOCOL_MONGODB: CredentialProtocol

class Benchmark(_message.Message):
    __slots__ = ("benchmark_id", "title", "version", "control_count", "target_kinds")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTROL_COUNT_FIELD_NUMBER: _ClassVar[int]
    TARGET_KINDS_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    title: str
    version: str
    control_count: int
    target_kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, benchmark_id: _Optional[str] = ..., title: _Optional[str] = ..., version: _Optional[str] = ..., control_count: _Optional[int] = ..., target_kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class ListBenchmarksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBenchmarksResponse(_message.Message):
    __slots__ = ("benchmarks",)
    BENCHMARKS_FIELD_NUMBER: _ClassVar[int]
    benchmarks: _containers.RepeatedCompositeFieldContainer[Benchmark]
    def __init__(self, benchmarks: _Optional[_Iterable[_Union[Benchmark, _Mapping]]] = ...) -> None: ...

class ControlResult(_message.Message):
    __slots__ = ("control_id", "title", "status", "severity", "target", "evidence", "remediation", "decision")
    CONTROL_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    control_id: str
    title: str
    status: ControlStatus
    severity: _common_pb2.Severity
    target: str
    evidence: _containers.RepeatedScalarFieldContainer[str]
    remediation: str
    decision: _common_pb2.Decision
    def __init__(self, control_id: _Optional[str] = ..., title: _Optional[str] = ..., status: _Optional[_Union[ControlStatus, str]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., target: _Optional[str] = ..., evidence: _Optional[_Iterable[str]] = ..., remediation: _Optional[str] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class ComplianceReport(_message.Message):
    __slots__ = ("run_id", "benchmark_id", "target_group", "started_at", "finished_at", "results", "passed", "failed", "manual", "score_percent", "bundle_revision")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    SCORE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_REVISION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    benchmark_id: str
    target_group: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    results: _containers.RepeatedCompositeFieldContainer[ControlResult]
    passed: int
    failed: int
    manual: int
    score_percent: float
    bundle_revision: str
    def __init__(self, run_id: _Optional[str] = ..., benchmark_id: _Optional[str] = ..., target_group: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., results: _Optional[_Iterable[_Union[ControlResult, _Mapping]]] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ..., manual: _Optional[int] = ..., score_percent: _Optional[float] = ..., bundle_revision: _Optional[str] = ...) -> None: ...

class RunBenchmarkRequest(_message.Message):
    __slots__ = ("benchmark_id", "target_group")
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    benchmark_id: str
    target_group: str
    def __init__(self, benchmark_id: _Optional[str] = ..., target_group: _Optional[str] = ...) -> None: ...

class RunBenchmarkResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ComplianceReport
    def __init__(self, report: _Optional[_Union[ComplianceReport, _Mapping]] = ...) -> None: ...

class GetComplianceReportRequest(_message.Message):
    __slots__ = ("run_id", "benchmark_id", "target_group")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    benchmark_id: str
    target_group: str
    def __init__(self, run_id: _Optional[str] = ..., benchmark_id: _Optional[str] = ..., target_group: _Optional[str] = ...) -> None: ...

class GetComplianceReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ComplianceReport
    def __init__(self, report: _Optional[_Union[ComplianceReport, _Mapping]] = ...) -> None: ...

class CheckCredentialsRequest(_message.Message):
    __slots__ = ("endpoint", "protocol", "max_attempts")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    protocol: CredentialProtocol
    max_attempts: int
    def __init__(self, endpoint: _Optional[str] = ..., protocol: _Optional[_Union[CredentialProtocol, str]] = ..., max_attempts: _Optional[int] = ...) -> None: ...

class WeakCredential(_message.Message):
    __slots__ = ("username", "weakness", "severity")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    WEAKNESS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    username: str
    weakness: str
    severity: _common_pb2.Severity
    def __init__(self, username: _Optional[str] = ..., weakness: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ...) -> None: ...

class CheckCredentialsResponse(_message.Message):
    __slots__ = ("endpoint", "protocol", "weak_credentials", "attempts", "checked_at", "decision")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    WEAK_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    protocol: CredentialProtocol
    weak_credentials: _containers.RepeatedCompositeFieldContainer[WeakCredential]
    attempts: int
    checked_at: _timestamp_pb2.Timestamp
    decision: _common_pb2.Decision
    def __init__(self, endpoint: _Optional[str] = ..., protocol: _Optional[_Union[CredentialProtocol, str]] = ..., weak_credentials: _Optional[_Iterable[_Union[WeakCredential, _Mapping]]] = ..., attempts: _Optional[int] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...
