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

class ResponseAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_ACTION_UNSPECIFIED: _ClassVar[ResponseAction]
    RESPONSE_ACTION_ISOLATE_CONTAINER: _ClassVar[ResponseAction]
    RESPONSE_ACTION_KILL_PROCESS: _ClassVar[ResponseAction]
    RESPONSE_ACTION_QUARANTINE_FILE: _ClassVar[ResponseAction]

class ResponseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_STATUS_UNSPECIFIED: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_PENDING: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_SUCCEEDED: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_FAILED: _ClassVar[ResponseStatus]
    RESPONSE_STATUS_DENIED: _ClassVar[ResponseStatus]

class ModelState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_STATE_UNSPECIFIED: _ClassVar[ModelState]
    MODEL_STATE_LEARNING: _ClassVar[ModelState]
    MODEL_STATE_STABLE: _ClassVar[ModelState]
RESPONSE_ACTION_UNSPECIFIED: ResponseAction
RESPONSE_ACTION_ISOLATE_CONTAINER: ResponseAction
RESPONSE_ACTION_KILL_PROCESS: ResponseAction
RESPONSE_ACTION_QUARANTINE_FILE: ResponseAction
RESPONSE_STATUS_UNSPECIFIED: ResponseStatus
RESPONSE_STATUS_PENDING: ResponseStatus
RESPONSE_STATUS_SUCCEEDED: ResponseStatus
RESPONSE_STATUS_FAILED: ResponseStatus
RESPONSE_STATUS_DENIED: ResponseStatus
MODEL_STATE_UNSPECIFIED: ModelState
MODEL_STATE_LEARNING: ModelState
MODEL_STATE_STABLE: ModelState

class ProcessInfo(_message.Message):
    __slots__ = ("pid", "executable", "args", "user", "parent_executable")
    PID_FIELD_NUMBER: _ClassVar[int]
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARENT_EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    pid: int
    executable: str
    args: _containers.RepeatedScalarFieldContainer[str]
    user: str
    parent_executable: str
    def __init__(self, pid: _Optional[int] = ..., executable: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., user: _Optional[str] = ..., parent_executable: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("alert_id", "rule_id", "title", "severity", "workload", "container_id", "image", "node", "process", "evidence_json", "observed_at", "decision")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_JSON_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    rule_id: str
    title: str
    severity: _common_pb2.Severity
    workload: _common_pb2.WorkloadRef
    container_id: str
    image: _common_pb2.ImageRef
    node: str
    process: ProcessInfo
    evidence_json: bytes
    observed_at: _timestamp_pb2.Timestamp
    decision: _common_pb2.Decision
    def __init__(self, alert_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., title: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., container_id: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., node: _Optional[str] = ..., process: _Optional[_Union[ProcessInfo, _Mapping]] = ..., evidence_json: _Optional[bytes] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("workload", "min_severity", "start_time", "end_time", "page_size", "page_token")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    min_severity: _common_pb2.Severity
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_page_token")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    next_page_token: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamAlertsRequest(_message.Message):
    __slots__ = ("workload", "min_severity", "replay_from")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FROM_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    min_severity: _common_pb2.Severity
    replay_from: _timestamp_pb2.Timestamp
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., replay_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class RespondRequest(_message.Message):
    __slots__ = ("alert_id", "action", "container_id", "pid", "file_path", "requested_by", "justification")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    action: ResponseAction
    container_id: str
    pid: int
    file_path: str
    requested_by: str
    justification: str
    def __init__(self, alert_id: _Optional[str] = ..., action: _Optional[_Union[ResponseAction, str]] = ..., container_id: _Optional[str] = ..., pid: _Optional[int] = ..., file_path: _Optional[str] = ..., requested_by: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class RespondResponse(_message.Message):
    __slots__ = ("response_id", "action", "status", "message", "decision", "completed_at")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    action: ResponseAction
    status: ResponseStatus
    message: str
    decision: _common_pb2.Decision
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, response_id: _Optional[str] = ..., action: _Optional[_Union[ResponseAction, str]] = ..., status: _Optional[_Union[ResponseStatus, str]] = ..., message: _Optional[str] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProcessProfile(_message.Message):
    __slots__ = ("executable", "users", "observations")
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    executable: str
    users: _containers.RepeatedScalarFieldContainer[str]
    observations: int
    def __init__(self, executable: _Optional[str] = ..., users: _Optional[_Iterable[str]] = ..., observations: _Optional[int] = ...) -> None: ...

class FileProfile(_message.Message):
    __slots__ = ("path_prefix", "write")
    PATH_PREFIX_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    path_prefix: str
    write: bool
    def __init__(self, path_prefix: _Optional[str] = ..., write: _Optional[bool] = ...) -> None: ...

class NetworkProfile(_message.Message):
    __slots__ = ("outbound", "protocol", "port", "peer")
    OUTBOUND_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    outbound: bool
    protocol: str
    port: int
    peer: str
    def __init__(self, outbound: _Optional[bool] = ..., protocol: _Optional[str] = ..., port: _Optional[int] = ..., peer: _Optional[str] = ...) -> None: ...

class BehaviourModel(_message.Message):
    __slots__ = ("workload", "image", "state", "learning_started_at", "stable_since", "processes", "files", "connections", "syscalls")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STABLE_SINCE_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SYSCALLS_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    image: _common_pb2.ImageRef
    state: ModelState
    learning_started_at: _timestamp_pb2.Timestamp
    stable_since: _timestamp_pb2.Timestamp
    processes: _containers.RepeatedCompositeFieldContainer[ProcessProfile]
    files: _containers.RepeatedCompositeFieldContainer[FileProfile]
    connections: _containers.RepeatedCompositeFieldContainer[NetworkProfile]
    syscalls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., state: _Optional[_Union[ModelState, str]] = ..., learning_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stable_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processes: _Optional[_Iterable[_Union[ProcessProfile, _Mapping]]] = ..., files: _Optional[_Iterable[_Union[FileProfile, _Mapping]]] = ..., connections: _Optional[_Iterable[_Union[NetworkProfile, _Mapping]]] = ..., syscalls: _Optional[_Iterable[str]] = ...) -> None: ...

class GetBehaviourModelRequest(_message.Message):
    __slots__ = ("workload",)
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ...) -> None: ...

class GetBehaviourModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: BehaviourModel
    def __init__(self, model: _Optional[_Union[BehaviourModel, _Mapping]] = ...) -> None: ...
