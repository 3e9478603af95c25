"""What every SBOM format provides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from propolis.scanner.catalogue import Catalogue

#: Property / comment keys carrying layer attribution, shared by the writers and the reader.
LAYER_DIGEST = "propolis:layer:digest"
LAYER_DIFF_ID = "propolis:layer:diff_id"
LOCATION_PATH = "propolis:location:path"
IMAGE_LAYER = "propolis:image:layer"


@runtime_checkable
class Format(Protocol):
    #: The name given to ``propolis sbom --format``.
    name: str

    def render(self, catalogue: Catalogue) -> bytes:
        """The whole SBOM document, encoded as UTF-8."""
        ...
