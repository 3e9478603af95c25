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

class SbomFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SBOM_FORMAT_UNSPECIFIED: _ClassVar[SbomFormat]
    SBOM_FORMAT_CYCLONEDX_JSON: _ClassVar[SbomFormat]
    SBOM_FORMAT_SPDX_JSON: _ClassVar[SbomFormat]

class ScanStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCAN_STAGE_UNSPECIFIED: _ClassVar[ScanStage]
    SCAN_STAGE_RESOLVING: _ClassVar[ScanStage]
    SCAN_STAGE_FETCHING: _ClassVar[ScanStage]
    SCAN_STAGE_ANALYZING_LAYER: _ClassVar[ScanStage]
    SCAN_STAGE_MATCHING: _ClassVar[ScanStage]
    SCAN_STAGE_COMPLETED: _ClassVar[ScanStage]
SBOM_FORMAT_UNSPECIFIED: SbomFormat
SBOM_FORMAT_CYCLONEDX_JSON: SbomFormat
SBOM_FORMAT_SPDX_JSON: SbomFormat
SCAN_STAGE_UNSPECIFIED: ScanStage
SCAN_STAGE_RESOLVING: ScanStage
SCAN_STAGE_FETCHING: ScanStage
SCAN_STAGE_ANALYZING_LAYER: ScanStage
SCAN_STAGE_MATCHING: ScanStage
SCAN_STAGE_COMPLETED: ScanStage

class ScanOptions(_message.Message):
    __slots__ = ("skip_vulnerabilities", "skip_secrets", "skip_config", "force")
    SKIP_VULNERABILITIES_FIELD_NUMBER: _ClassVar[int]
    SKIP_SECRETS_FIELD_NUMBER: _ClassVar[int]
    SKIP_CONFIG_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    skip_vulnerabilities: bool
    skip_secrets: bool
    skip_config: bool
    force: bool
    def __init__(self, skip_vulnerabilities: _Optional[bool] = ..., skip_secrets: _Optional[bool] = ..., skip_config: _Optional[bool] = ..., force: _Optional[bool] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("index", "digest", "diff_id", "created_by", "size_bytes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DIFF_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    index: int
    digest: str
    diff_id: str
    created_by: str
    size_bytes: int
    def __init__(self, index: _Optional[int] = ..., digest: _Optional[str] = ..., diff_id: _Optional[str] = ..., created_by: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class PackageLocation(_message.Message):
    __slots__ = ("path", "layer_diff_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LAYER_DIFF_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    layer_diff_id: str
    def __init__(self, path: _Optional[str] = ..., layer_diff_id: _Optional[str] = ...) -> None: ...

class Package(_message.Message):
    __slots__ = ("name", "version", "purl", "ecosystem", "source_package", "licenses", "locations", "layer")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PURL_FIELD_NUMBER: _ClassVar[int]
    ECOSYSTEM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PACKAGE_FIELD_NUMBER: _ClassVar[int]
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    purl: str
    ecosystem: str
    source_package: str
    licenses: _containers.RepeatedScalarFieldContainer[str]
    locations: _containers.RepeatedCompositeFieldContainer[PackageLocation]
    layer: Layer
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., purl: _Optional[str] = ..., ecosystem: _Optional[str] = ..., source_package: _Optional[str] = ..., licenses: _Optional[_Iterable[str]] = ..., locations: _Optional[_Iterable[_Union[PackageLocation, _Mapping]]] = ..., layer: _Optional[_Union[Layer, _Mapping]] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("id", "aliases", "severity", "cvss_score", "cvss_vector", "package_name", "installed_version", "fixed_version", "purl", "layer", "path", "title", "known_exploited", "epss_score", "data_source")
    ID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CVSS_SCORE_FIELD_NUMBER: _ClassVar[int]
    CVSS_VECTOR_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIXED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PURL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    KNOWN_EXPLOITED_FIELD_NUMBER: _ClassVar[int]
    EPSS_SCORE_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    severity: _common_pb2.Severity
    cvss_score: float
    cvss_vector: str
    package_name: str
    installed_version: str
    fixed_version: str
    purl: str
    layer: Layer
    path: str
    title: str
    known_exploited: bool
    epss_score: float
    data_source: str
    def __init__(self, id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., cvss_score: _Optional[float] = ..., cvss_vector: _Optional[str] = ..., package_name: _Optional[str] = ..., installed_version: _Optional[str] = ..., fixed_version: _Optional[str] = ..., purl: _Optional[str] = ..., layer: _Optional[_Union[Layer, _Mapping]] = ..., path: _Optional[str] = ..., title: _Optional[str] = ..., known_exploited: _Optional[bool] = ..., epss_score: _Optional[float] = ..., data_source: _Optional[str] = ...) -> None: ...

class Secret(_message.Message):
    __slots__ = ("rule_id", "category", "severity", "path", "line", "redacted_match", "layer")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    REDACTED_MATCH_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    category: str
    severity: _common_pb2.Severity
    path: str
    line: int
    redacted_match: str
    layer: Layer
    def __init__(self, rule_id: _Optional[str] = ..., category: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., path: _Optional[str] = ..., line: _Optional[int] = ..., redacted_match: _Optional[str] = ..., layer: _Optional[_Union[Layer, _Mapping]] = ...) -> None: ...

class ConfigFact(_message.Message):
    __slots__ = ("key", "value_json", "source")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value_json: bytes
    source: str
    def __init__(self, key: _Optional[str] = ..., value_json: _Optional[bytes] = ..., source: _Optional[str] = ...) -> None: ...

class FindingSummary(_message.Message):
    __slots__ = ("critical", "high", "medium", "low", "negligible", "unknown", "fixable")
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    NEGLIGIBLE_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    FIXABLE_FIELD_NUMBER: _ClassVar[int]
    critical: int
    high: int
    medium: int
    low: int
    negligible: int
    unknown: int
    fixable: int
    def __init__(self, critical: _Optional[int] = ..., high: _Optional[int] = ..., medium: _Optional[int] = ..., low: _Optional[int] = ..., negligible: _Optional[int] = ..., unknown: _Optional[int] = ..., fixable: _Optional[int] = ...) -> None: ...

class ScanResult(_message.Message):
    __slots__ = ("scan_id", "image", "os_id", "os_version", "layers", "packages", "findings", "secrets", "config_facts", "summary", "vulnerability_db_revision", "scanned_at", "partial", "partial_reasons")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OS_ID_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FACTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VULNERABILITY_DB_REVISION_FIELD_NUMBER: _ClassVar[int]
    SCANNED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_REASONS_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    image: _common_pb2.ImageRef
    os_id: str
    os_version: str
    layers: _containers.RepeatedCompositeFieldContainer[Layer]
    packages: _containers.RepeatedCompositeFieldContainer[Package]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    secrets: _containers.RepeatedCompositeFieldContainer[Secret]
    config_facts: _containers.RepeatedCompositeFieldContainer[ConfigFact]
    summary: FindingSummary
    vulnerability_db_revision: str
    scanned_at: _timestamp_pb2.Timestamp
    partial: bool
    partial_reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scan_id: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., os_id: _Optional[str] = ..., os_version: _Optional[str] = ..., layers: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ..., packages: _Optional[_Iterable[_Union[Package, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., secrets: _Optional[_Iterable[_Union[Secret, _Mapping]]] = ..., config_facts: _Optional[_Iterable[_Union[ConfigFact, _Mapping]]] = ..., summary: _Optional[_Union[FindingSummary, _Mapping]] = ..., vulnerability_db_revision: _Optional[str] = ..., scanned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partial: _Optional[bool] = ..., partial_reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class ScanProgress(_message.Message):
    __slots__ = ("stage", "layer", "layer_count", "packages_found", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    LAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FOUND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: ScanStage
    layer: Layer
    layer_count: int
    packages_found: int
    message: str
    def __init__(self, stage: _Optional[_Union[ScanStage, str]] = ..., layer: _Optional[_Union[Layer, _Mapping]] = ..., layer_count: _Optional[int] = ..., packages_found: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ScanImageRequest(_message.Message):
    __slots__ = ("image", "options")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    options: ScanOptions
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., options: _Optional[_Union[ScanOptions, _Mapping]] = ...) -> None: ...

class ScanImageResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ScanResult
    def __init__(self, result: _Optional[_Union[ScanResult, _Mapping]] = ...) -> None: ...

class ScanImageStreamRequest(_message.Message):
    __slots__ = ("image", "options")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    options: ScanOptions
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., options: _Optional[_Union[ScanOptions, _Mapping]] = ...) -> None: ...

class ScanImageStreamResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: ScanProgress
    result: ScanResult
    def __init__(self, progress: _Optional[_Union[ScanProgress, _Mapping]] = ..., result: _Optional[_Union[ScanResult, _Mapping]] = ...) -> None: ...

class GetSBOMRequest(_message.Message):
    __slots__ = ("scan_id", "image", "format")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    image: _common_pb2.ImageRef
    format: SbomFormat
    def __init__(self, scan_id: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., format: _Optional[_Union[SbomFormat, str]] = ...) -> None: ...

class GetSBOMResponse(_message.Message):
    __slots__ = ("scan_id", "format", "media_type", "document_json")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    format: SbomFormat
    media_type: str
    document_json: bytes
    def __init__(self, scan_id: _Optional[str] = ..., format: _Optional[_Union[SbomFormat, str]] = ..., media_type: _Optional[str] = ..., document_json: _Optional[bytes] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("scan_id", "image")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    image: _common_pb2.ImageRef
    def __init__(self, scan_id: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ScanResult
    def __init__(self, result: _Optional[_Union[ScanResult, _Mapping]] = ...) -> None: ...

class ListFindingsRequest(_message.Message):
    __slots__ = ("scan_id", "image", "min_severity", "fixable", "package_name", "page_size", "page_token")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FIXABLE_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    image: _common_pb2.ImageRef
    min_severity: _common_pb2.Severity
    fixable: bool
    package_name: str
    page_size: int
    page_token: str
    def __init__(self, scan_id: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., fixable: _Optional[bool] = ..., package_name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFindingsResponse(_message.Message):
    __slots__ = ("findings", "next_page_token", "total_size")
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    next_page_token: str
    total_size: int
    def __init__(self, findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...
