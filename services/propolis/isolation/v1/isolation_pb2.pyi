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

class IsolationMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ISOLATION_MODE_UNSPECIFIED: _ClassVar[IsolationMode]
    ISOLATION_MODE_DISCOVER: _ClassVar[IsolationMode]
    ISOLATION_MODE_MONITOR: _ClassVar[IsolationMode]
    ISOLATION_MODE_PROTECT: _ClassVar[IsolationMode]

class RuleAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_ACTION_UNSPECIFIED: _ClassVar[RuleAction]
    RULE_ACTION_ALLOW: _ClassVar[RuleAction]
    RULE_ACTION_DENY: _ClassVar[RuleAction]

class RuleOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_ORIGIN_UNSPECIFIED: _ClassVar[RuleOrigin]
    RULE_ORIGIN_LEARNED: _ClassVar[RuleOrigin]
    RULE_ORIGIN_POLICY: _ClassVar[RuleOrigin]
    RULE_ORIGIN_MANUAL: _ClassVar[RuleOrigin]
    RULE_ORIGIN_QUARANTINE: _ClassVar[RuleOrigin]
ISOLATION_MODE_UNSPECIFIED: IsolationMode
ISOLATION_MODE_DISCOVER: IsolationMode
ISOLATION_MODE_MONITOR: IsolationMode
ISOLATION_MODE_PROTECT: IsolationMode
RULE_ACTION_UNSPECIFIED: RuleAction
RULE_ACTION_ALLOW: RuleAction
RULE_ACTION_DENY: RuleAction
RULE_ORIGIN_UNSPECIFIED: RuleOrigin
RULE_ORIGIN_LEARNED: RuleOrigin
RULE_ORIGIN_POLICY: RuleOrigin
RULE_ORIGIN_MANUAL: RuleOrigin
RULE_ORIGIN_QUARANTINE: RuleOrigin

class Peer(_message.Message):
    __slots__ = ("workload", "cidr", "dns_name")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    DNS_NAME_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    cidr: str
    dns_name: str
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., cidr: _Optional[str] = ..., dns_name: _Optional[str] = ...) -> None: ...

class NetworkRule(_message.Message):
    __slots__ = ("rule_id", "source", "destination", "protocol", "port", "action", "origin", "created_at")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    source: Peer
    destination: Peer
    protocol: str
    port: int
    action: RuleAction
    origin: RuleOrigin
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, rule_id: _Optional[str] = ..., source: _Optional[_Union[Peer, _Mapping]] = ..., destination: _Optional[_Union[Peer, _Mapping]] = ..., protocol: _Optional[str] = ..., port: _Optional[int] = ..., action: _Optional[_Union[RuleAction, str]] = ..., origin: _Optional[_Union[RuleOrigin, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetNetworkRulesRequest(_message.Message):
    __slots__ = ("target",)
    TARGET_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.WorkloadRef
    def __init__(self, target: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ...) -> None: ...

class GetNetworkRulesResponse(_message.Message):
    __slots__ = ("mode", "rules")
    MODE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    mode: IsolationMode
    rules: _containers.RepeatedCompositeFieldContainer[NetworkRule]
    def __init__(self, mode: _Optional[_Union[IsolationMode, str]] = ..., rules: _Optional[_Iterable[_Union[NetworkRule, _Mapping]]] = ...) -> None: ...

class SetModeRequest(_message.Message):
    __slots__ = ("target", "mode", "requested_by")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    target: _common_pb2.WorkloadRef
    mode: IsolationMode
    requested_by: str
    def __init__(self, target: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., mode: _Optional[_Union[IsolationMode, str]] = ..., requested_by: _Optional[str] = ...) -> None: ...

class SetModeResponse(_message.Message):
    __slots__ = ("previous_mode", "mode", "effective_at", "decision")
    PREVIOUS_MODE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    previous_mode: IsolationMode
    mode: IsolationMode
    effective_at: _timestamp_pb2.Timestamp
    decision: _common_pb2.Decision
    def __init__(self, previous_mode: _Optional[_Union[IsolationMode, str]] = ..., mode: _Optional[_Union[IsolationMode, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class QuarantineWorkloadRequest(_message.Message):
    __slots__ = ("workload", "reason", "alert_id", "requested_by")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    reason: str
    alert_id: str
    requested_by: str
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., reason: _Optional[str] = ..., alert_id: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class QuarantineWorkloadResponse(_message.Message):
    __slots__ = ("quarantine_id", "quarantined_at", "decision")
    QUARANTINE_ID_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    quarantine_id: str
    quarantined_at: _timestamp_pb2.Timestamp
    decision: _common_pb2.Decision
    def __init__(self, quarantine_id: _Optional[str] = ..., quarantined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class ReleaseWorkloadRequest(_message.Message):
    __slots__ = ("workload", "justification", "owner")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    justification: str
    owner: str
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., justification: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class ReleaseWorkloadResponse(_message.Message):
    __slots__ = ("released_at", "mode")
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    released_at: _timestamp_pb2.Timestamp
    mode: IsolationMode
    def __init__(self, released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mode: _Optional[_Union[IsolationMode, str]] = ...) -> None: ...

class TrafficNode(_message.Message):
    __slots__ = ("node_id", "workload", "external_address", "mode", "quarantined")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    workload: _common_pb2.WorkloadRef
    external_address: str
    mode: IsolationMode
    quarantined: bool
    def __init__(self, node_id: _Optional[str] = ..., workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., external_address: _Optional[str] = ..., mode: _Optional[_Union[IsolationMode, str]] = ..., quarantined: _Optional[bool] = ...) -> None: ...

class TrafficEdge(_message.Message):
    __slots__ = ("source_node_id", "destination_node_id", "protocol", "port", "connection_count", "allowed", "last_seen_at")
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    source_node_id: str
    destination_node_id: str
    protocol: str
    port: int
    connection_count: int
    allowed: bool
    last_seen_at: _timestamp_pb2.Timestamp
    def __init__(self, source_node_id: _Optional[str] = ..., destination_node_id: _Optional[str] = ..., protocol: _Optional[str] = ..., port: _Optional[int] = ..., connection_count: _Optional[int] = ..., allowed: _Optional[bool] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTrafficGraphRequest(_message.Message):
    __slots__ = ("namespace", "start_time", "include_external")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    start_time: _timestamp_pb2.Timestamp
    include_external: bool
    def __init__(self, namespace: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_external: _Optional[bool] = ...) -> None: ...

class GetTrafficGraphResponse(_message.Message):
    __slots__ = ("nodes", "edges", "window_start", "window_end")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[TrafficNode]
    edges: _containers.RepeatedCompositeFieldContainer[TrafficEdge]
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    def __init__(self, nodes: _Optional[_Iterable[_Union[TrafficNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[TrafficEdge, _Mapping]]] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
