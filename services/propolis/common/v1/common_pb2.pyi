import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_UNKNOWN: _ClassVar[Severity]
    SEVERITY_NEGLIGIBLE: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ALLOW: _ClassVar[Verdict]
    VERDICT_WARN: _ClassVar[Verdict]
    VERDICT_BLOCK: _ClassVar[Verdict]

class DecisionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_OUTCOME_UNSPECIFIED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_EVALUATED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_UNDEFINED_FALLBACK: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_ERROR_FALLBACK: _ClassVar[DecisionOutcome]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_UNKNOWN: Severity
SEVERITY_NEGLIGIBLE: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
VERDICT_UNSPECIFIED: Verdict
VERDICT_ALLOW: Verdict
VERDICT_WARN: Verdict
VERDICT_BLOCK: Verdict
DECISION_OUTCOME_UNSPECIFIED: DecisionOutcome
DECISION_OUTCOME_EVALUATED: DecisionOutcome
DECISION_OUTCOME_UNDEFINED_FALLBACK: DecisionOutcome
DECISION_OUTCOME_ERROR_FALLBACK: DecisionOutcome

class Decision(_message.Message):
    __slots__ = ("decision_id", "path", "result_json", "bundle_revision", "outcome", "reasons", "decided_at", "eval_duration_micros", "input_sha256", "decision_point", "error", "mode", "input_bytes")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_REVISION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    EVAL_DURATION_MICROS_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHA256_FIELD_NUMBER: _ClassVar[int]
    DECISION_POINT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    INPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    path: str
    result_json: bytes
    bundle_revision: str
    outcome: DecisionOutcome
    reasons: _containers.RepeatedScalarFieldContainer[str]
    decided_at: _timestamp_pb2.Timestamp
    eval_duration_micros: int
    input_sha256: str
    decision_point: str
    error: str
    mode: str
    input_bytes: int
    def __init__(self, decision_id: _Optional[str] = ..., path: _Optional[str] = ..., result_json: _Optional[bytes] = ..., bundle_revision: _Optional[str] = ..., outcome: _Optional[_Union[DecisionOutcome, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., eval_duration_micros: _Optional[int] = ..., input_sha256: _Optional[str] = ..., decision_point: _Optional[str] = ..., error: _Optional[str] = ..., mode: _Optional[str] = ..., input_bytes: _Optional[int] = ...) -> None: ...

class ImageRef(_message.Message):
    __slots__ = ("reference", "registry", "repository", "tag", "digest", "platform")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    reference: str
    registry: str
    repository: str
    tag: str
    digest: str
    platform: str
    def __init__(self, reference: _Optional[str] = ..., registry: _Optional[str] = ..., repository: _Optional[str] = ..., tag: _Optional[str] = ..., digest: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class WorkloadRef(_message.Message):
    __slots__ = ("cluster", "namespace", "kind", "name")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    namespace: str
    kind: str
    name: str
    def __init__(self, cluster: _Optional[str] = ..., namespace: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PolicyRevision(_message.Message):
    __slots__ = ("revision", "source", "source_ref", "loaded_at")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    revision: str
    source: str
    source_ref: str
    loaded_at: _timestamp_pb2.Timestamp
    def __init__(self, revision: _Optional[str] = ..., source: _Optional[str] = ..., source_ref: _Optional[str] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
