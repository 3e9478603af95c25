from propolis.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Checkpoint(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECKPOINT_UNSPECIFIED: _ClassVar[Checkpoint]
    CHECKPOINT_CI: _ClassVar[Checkpoint]
    CHECKPOINT_REGISTRY: _ClassVar[Checkpoint]
    CHECKPOINT_DEPLOY: _ClassVar[Checkpoint]
    CHECKPOINT_RUNTIME: _ClassVar[Checkpoint]
CHECKPOINT_UNSPECIFIED: Checkpoint
CHECKPOINT_CI: Checkpoint
CHECKPOINT_REGISTRY: Checkpoint
CHECKPOINT_DEPLOY: Checkpoint
CHECKPOINT_RUNTIME: Checkpoint

class RiskFactor(_message.Message):
    __slots__ = ("factor", "raw_value", "contribution", "detail")
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    RAW_VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    factor: str
    raw_value: float
    contribution: float
    detail: str
    def __init__(self, factor: _Optional[str] = ..., raw_value: _Optional[float] = ..., contribution: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class ScoreImageRequest(_message.Message):
    __slots__ = ("image", "scan_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    scan_id: str
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., scan_id: _Optional[str] = ...) -> None: ...

class ScoreImageResponse(_message.Message):
    __slots__ = ("image", "score", "factors", "decision")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    score: float
    factors: _containers.RepeatedCompositeFieldContainer[RiskFactor]
    decision: _common_pb2.Decision
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., score: _Optional[float] = ..., factors: _Optional[_Iterable[_Union[RiskFactor, _Mapping]]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class ScoreWorkloadRequest(_message.Message):
    __slots__ = ("workload", "manifest_json")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    manifest_json: bytes
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., manifest_json: _Optional[bytes] = ...) -> None: ...

class ScoreWorkloadResponse(_message.Message):
    __slots__ = ("workload", "score", "factors", "images", "decision")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    workload: _common_pb2.WorkloadRef
    score: float
    factors: _containers.RepeatedCompositeFieldContainer[RiskFactor]
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.ImageRef]
    decision: _common_pb2.Decision
    def __init__(self, workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., score: _Optional[float] = ..., factors: _Optional[_Iterable[_Union[RiskFactor, _Mapping]]] = ..., images: _Optional[_Iterable[_Union[_common_pb2.ImageRef, _Mapping]]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class EvaluateCheckpointRequest(_message.Message):
    __slots__ = ("checkpoint", "image", "namespace", "team", "workload", "context_json")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    checkpoint: Checkpoint
    image: _common_pb2.ImageRef
    namespace: str
    team: str
    workload: _common_pb2.WorkloadRef
    context_json: bytes
    def __init__(self, checkpoint: _Optional[_Union[Checkpoint, str]] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., namespace: _Optional[str] = ..., team: _Optional[str] = ..., workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., context_json: _Optional[bytes] = ...) -> None: ...

class EvaluateCheckpointResponse(_message.Message):
    __slots__ = ("verdict", "reasons", "score", "factors", "decision")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    reasons: _containers.RepeatedScalarFieldContainer[str]
    score: float
    factors: _containers.RepeatedCompositeFieldContainer[RiskFactor]
    decision: _common_pb2.Decision
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ..., factors: _Optional[_Iterable[_Union[RiskFactor, _Mapping]]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class RankWorkloadsRequest(_message.Message):
    __slots__ = ("namespace", "team", "limit")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    team: str
    limit: int
    def __init__(self, namespace: _Optional[str] = ..., team: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class RankedWorkload(_message.Message):
    __slots__ = ("rank", "workload", "team", "score", "top_factors")
    RANK_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TOP_FACTORS_FIELD_NUMBER: _ClassVar[int]
    rank: int
    workload: _common_pb2.WorkloadRef
    team: str
    score: float
    top_factors: _containers.RepeatedCompositeFieldContainer[RiskFactor]
    def __init__(self, rank: _Optional[int] = ..., workload: _Optional[_Union[_common_pb2.WorkloadRef, _Mapping]] = ..., team: _Optional[str] = ..., score: _Optional[float] = ..., top_factors: _Optional[_Iterable[_Union[RiskFactor, _Mapping]]] = ...) -> None: ...

class RankWorkloadsResponse(_message.Message):
    __slots__ = ("workloads",)
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    workloads: _containers.RepeatedCompositeFieldContainer[RankedWorkload]
    def __init__(self, workloads: _Optional[_Iterable[_Union[RankedWorkload, _Mapping]]] = ...) -> None: ...
