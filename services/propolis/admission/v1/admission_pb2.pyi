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

class ManifestFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MANIFEST_FORMAT_UNSPECIFIED: _ClassVar[ManifestFormat]
    MANIFEST_FORMAT_YAML: _ClassVar[ManifestFormat]
    MANIFEST_FORMAT_JSON: _ClassVar[ManifestFormat]
    MANIFEST_FORMAT_HELM: _ClassVar[ManifestFormat]
    MANIFEST_FORMAT_DOCKERFILE: _ClassVar[ManifestFormat]
MANIFEST_FORMAT_UNSPECIFIED: ManifestFormat
MANIFEST_FORMAT_YAML: ManifestFormat
MANIFEST_FORMAT_JSON: ManifestFormat
MANIFEST_FORMAT_HELM: ManifestFormat
MANIFEST_FORMAT_DOCKERFILE: ManifestFormat

class AdmitRequest(_message.Message):
    __slots__ = ("manifests", "format", "namespace", "dry_run", "helm_values_json", "requested_by")
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    HELM_VALUES_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    manifests: bytes
    format: ManifestFormat
    namespace: str
    dry_run: bool
    helm_values_json: bytes
    requested_by: str
    def __init__(self, manifests: _Optional[bytes] = ..., format: _Optional[_Union[ManifestFormat, str]] = ..., namespace: _Optional[str] = ..., dry_run: _Optional[bool] = ..., helm_values_json: _Optional[bytes] = ..., requested_by: _Optional[str] = ...) -> None: ...

class ObjectResult(_message.Message):
    __slots__ = ("index", "api_version", "kind", "namespace", "name", "verdict", "messages", "warnings", "decision", "exemption_ids")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EXEMPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    index: int
    api_version: str
    kind: str
    namespace: str
    name: str
    verdict: _common_pb2.Verdict
    messages: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    decision: _common_pb2.Decision
    exemption_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., api_version: _Optional[str] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., messages: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ..., exemption_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AdmitResponse(_message.Message):
    __slots__ = ("verdict", "results", "dry_run")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    results: _containers.RepeatedCompositeFieldContainer[ObjectResult]
    dry_run: bool
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., results: _Optional[_Iterable[_Union[ObjectResult, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class Exemption(_message.Message):
    __slots__ = ("exemption_id", "namespace", "kind", "name_pattern", "rules", "justification", "owner", "expires_at")
    EXEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_PATTERN_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    exemption_id: str
    namespace: str
    kind: str
    name_pattern: str
    rules: _containers.RepeatedScalarFieldContainer[str]
    justification: str
    owner: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, exemption_id: _Optional[str] = ..., namespace: _Optional[str] = ..., kind: _Optional[str] = ..., name_pattern: _Optional[str] = ..., rules: _Optional[_Iterable[str]] = ..., justification: _Optional[str] = ..., owner: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListExemptionsRequest(_message.Message):
    __slots__ = ("namespace", "include_expired", "page_size", "page_token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    include_expired: bool
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., include_expired: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExemptionsResponse(_message.Message):
    __slots__ = ("exemptions", "next_page_token")
    EXEMPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    exemptions: _containers.RepeatedCompositeFieldContainer[Exemption]
    next_page_token: str
    def __init__(self, exemptions: _Optional[_Iterable[_Union[Exemption, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
