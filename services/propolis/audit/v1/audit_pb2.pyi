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

class ChainStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHAIN_STATUS_UNSPECIFIED: _ClassVar[ChainStatus]
    CHAIN_STATUS_INTACT: _ClassVar[ChainStatus]
    CHAIN_STATUS_BROKEN: _ClassVar[ChainStatus]
    CHAIN_STATUS_EMPTY: _ClassVar[ChainStatus]
CHAIN_STATUS_UNSPECIFIED: ChainStatus
CHAIN_STATUS_INTACT: ChainStatus
CHAIN_STATUS_BROKEN: ChainStatus
CHAIN_STATUS_EMPTY: ChainStatus

class DecisionRecord(_message.Message):
    __slots__ = ("sequence", "decision", "service", "verdict", "subject", "input_json", "recorded_at", "previous_hash", "record_hash")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    RECORD_HASH_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    decision: _common_pb2.Decision
    service: str
    verdict: _common_pb2.Verdict
    subject: str
    input_json: bytes
    recorded_at: _timestamp_pb2.Timestamp
    previous_hash: str
    record_hash: str
    def __init__(self, sequence: _Optional[int] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ..., service: _Optional[str] = ..., verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., subject: _Optional[str] = ..., input_json: _Optional[bytes] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_hash: _Optional[str] = ..., record_hash: _Optional[str] = ...) -> None: ...

class SearchDecisionsRequest(_message.Message):
    __slots__ = ("path", "bundle_revision", "start_time", "end_time", "verdict", "service", "include_input", "page_size", "page_token")
    PATH_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_REVISION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INPUT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    path: str
    bundle_revision: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    verdict: _common_pb2.Verdict
    service: str
    include_input: bool
    page_size: int
    page_token: str
    def __init__(self, path: _Optional[str] = ..., bundle_revision: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., service: _Optional[str] = ..., include_input: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchDecisionsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[DecisionRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[DecisionRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class GetDecisionResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: DecisionRecord
    def __init__(self, record: _Optional[_Union[DecisionRecord, _Mapping]] = ...) -> None: ...

class VerifyChainRequest(_message.Message):
    __slots__ = ("start_sequence", "end_sequence")
    START_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    END_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    start_sequence: int
    end_sequence: int
    def __init__(self, start_sequence: _Optional[int] = ..., end_sequence: _Optional[int] = ...) -> None: ...

class VerifyChainResponse(_message.Message):
    __slots__ = ("status", "records_checked", "first_sequence", "last_sequence", "head_hash", "broken_at_sequence", "failure_reason", "verified_at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    BROKEN_AT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    status: ChainStatus
    records_checked: int
    first_sequence: int
    last_sequence: int
    head_hash: str
    broken_at_sequence: int
    failure_reason: str
    verified_at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[ChainStatus, str]] = ..., records_checked: _Optional[int] = ..., first_sequence: _Optional[int] = ..., last_sequence: _Optional[int] = ..., head_hash: _Optional[str] = ..., broken_at_sequence: _Optional[int] = ..., failure_reason: _Optional[str] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
