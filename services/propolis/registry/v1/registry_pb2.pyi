import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from propolis.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyImageRequest(_message.Message):
    __slots__ = ("image", "team", "dry_run")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    team: str
    dry_run: bool
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., team: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class VerifyImageResponse(_message.Message):
    __slots__ = ("image", "verdict", "reasons", "quarantined", "signature_verified", "signer", "risk_score", "decision")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    verdict: _common_pb2.Verdict
    reasons: _containers.RepeatedScalarFieldContainer[str]
    quarantined: bool
    signature_verified: bool
    signer: str
    risk_score: float
    decision: _common_pb2.Decision
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., verdict: _Optional[_Union[_common_pb2.Verdict, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., quarantined: _Optional[bool] = ..., signature_verified: _Optional[bool] = ..., signer: _Optional[str] = ..., risk_score: _Optional[float] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class QuarantinedImage(_message.Message):
    __slots__ = ("image", "reasons", "quarantined_at", "decision_id", "risk_score")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    reasons: _containers.RepeatedScalarFieldContainer[str]
    quarantined_at: _timestamp_pb2.Timestamp
    decision_id: str
    risk_score: float
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., reasons: _Optional[_Iterable[str]] = ..., quarantined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_id: _Optional[str] = ..., risk_score: _Optional[float] = ...) -> None: ...

class ListQuarantinedRequest(_message.Message):
    __slots__ = ("repository_prefix", "page_size", "page_token")
    REPOSITORY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    repository_prefix: str
    page_size: int
    page_token: str
    def __init__(self, repository_prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListQuarantinedResponse(_message.Message):
    __slots__ = ("images", "next_page_token")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[QuarantinedImage]
    next_page_token: str
    def __init__(self, images: _Optional[_Iterable[_Union[QuarantinedImage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReleaseImageRequest(_message.Message):
    __slots__ = ("image", "justification", "owner", "expires_at")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    justification: str
    owner: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., justification: _Optional[str] = ..., owner: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReleaseImageResponse(_message.Message):
    __slots__ = ("image", "release_id", "released_at", "decision")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    release_id: str
    released_at: _timestamp_pb2.Timestamp
    decision: _common_pb2.Decision
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., release_id: _Optional[str] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[_common_pb2.Decision, _Mapping]] = ...) -> None: ...

class HandleRegistryEventRequest(_message.Message):
    __slots__ = ("notification_json", "content_type", "source")
    NOTIFICATION_JSON_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    notification_json: bytes
    content_type: str
    source: str
    def __init__(self, notification_json: _Optional[bytes] = ..., content_type: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class HandleRegistryEventResponse(_message.Message):
    __slots__ = ("events_received", "images")
    EVENTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    events_received: int
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.ImageRef]
    def __init__(self, events_received: _Optional[int] = ..., images: _Optional[_Iterable[_Union[_common_pb2.ImageRef, _Mapping]]] = ...) -> None: ...
