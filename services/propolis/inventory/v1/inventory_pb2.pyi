import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_KIND_UNSPECIFIED: _ClassVar[AssetKind]
    ASSET_KIND_CLUSTER: _ClassVar[AssetKind]
    ASSET_KIND_NODE: _ClassVar[AssetKind]
    ASSET_KIND_NAMESPACE: _ClassVar[AssetKind]
    ASSET_KIND_WORKLOAD: _ClassVar[AssetKind]
    ASSET_KIND_CONTAINER: _ClassVar[AssetKind]
    ASSET_KIND_IMAGE: _ClassVar[AssetKind]
    ASSET_KIND_REGISTRY: _ClassVar[AssetKind]
    ASSET_KIND_HOST: _ClassVar[AssetKind]

class AssetRelation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_RELATION_UNSPECIFIED: _ClassVar[AssetRelation]
    ASSET_RELATION_CONTAINS: _ClassVar[AssetRelation]
    ASSET_RELATION_RUNS: _ClassVar[AssetRelation]
    ASSET_RELATION_USES_IMAGE: _ClassVar[AssetRelation]
    ASSET_RELATION_HOSTED_ON: _ClassVar[AssetRelation]
    ASSET_RELATION_STORED_IN: _ClassVar[AssetRelation]
    ASSET_RELATION_CONNECTS_TO: _ClassVar[AssetRelation]
ASSET_KIND_UNSPECIFIED: AssetKind
ASSET_KIND_CLUSTER: AssetKind
ASSET_KIND_NODE: AssetKind
ASSET_KIND_NAMESPACE: AssetKind
ASSET_KIND_WORKLOAD: AssetKind
ASSET_KIND_CONTAINER: AssetKind
ASSET_KIND_IMAGE: AssetKind
ASSET_KIND_REGISTRY: AssetKind
ASSET_KIND_HOST: AssetKind
ASSET_RELATION_UNSPECIFIED: AssetRelation
ASSET_RELATION_CONTAINS: AssetRelation
ASSET_RELATION_RUNS: AssetRelation
ASSET_RELATION_USES_IMAGE: AssetRelation
ASSET_RELATION_HOSTED_ON: AssetRelation
ASSET_RELATION_STORED_IN: AssetRelation
ASSET_RELATION_CONNECTS_TO: AssetRelation

class Asset(_message.Message):
    __slots__ = ("asset_id", "kind", "name", "namespace", "team", "labels", "attributes_json", "risk_score", "first_seen_at", "last_seen_at")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_JSON_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    kind: AssetKind
    name: str
    namespace: str
    team: str
    labels: _containers.ScalarMap[str, str]
    attributes_json: bytes
    risk_score: float
    first_seen_at: _timestamp_pb2.Timestamp
    last_seen_at: _timestamp_pb2.Timestamp
    def __init__(self, asset_id: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., name: _Optional[str] = ..., namespace: _Optional[str] = ..., team: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., attributes_json: _Optional[bytes] = ..., risk_score: _Optional[float] = ..., first_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssetEdge(_message.Message):
    __slots__ = ("source_asset_id", "target_asset_id", "relation")
    SOURCE_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    source_asset_id: str
    target_asset_id: str
    relation: AssetRelation
    def __init__(self, source_asset_id: _Optional[str] = ..., target_asset_id: _Optional[str] = ..., relation: _Optional[_Union[AssetRelation, str]] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("kind", "namespace", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: AssetKind
    namespace: str
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[AssetKind, str]] = ..., namespace: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets", "next_page_token")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    next_page_token: str
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetResponse(_message.Message):
    __slots__ = ("asset", "edges")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    edges: _containers.RepeatedCompositeFieldContainer[AssetEdge]
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., edges: _Optional[_Iterable[_Union[AssetEdge, _Mapping]]] = ...) -> None: ...

class GetGraphRequest(_message.Message):
    __slots__ = ("root_asset_id", "depth", "kinds")
    ROOT_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    root_asset_id: str
    depth: int
    kinds: _containers.RepeatedScalarFieldContainer[AssetKind]
    def __init__(self, root_asset_id: _Optional[str] = ..., depth: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[AssetKind, str]]] = ...) -> None: ...

class GetGraphResponse(_message.Message):
    __slots__ = ("nodes", "edges")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Asset]
    edges: _containers.RepeatedCompositeFieldContainer[AssetEdge]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[AssetEdge, _Mapping]]] = ...) -> None: ...
