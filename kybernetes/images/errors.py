"""Image errors: what the image store, a pull, an import or an export can fail with.

    ImageError                        anything the images package raises on purpose
    ├── InvalidReferenceError         not a valid image reference (`Busybox`, `a:b:c`)
    ├── ImageNotFoundError            no such image in the local store
    ├── ImageInUseError               the image backs a container (a lease holds it)
    ├── StorageError                  the store could not write (disk full, permissions); partial files removed
    ├── ContentError                  content that is not what it claims: nothing of it is stored
    │   ├── DigestMismatchError       a blob or manifest whose sha256 or size differs from its descriptor
    │   ├── CorruptLayerError         a layer that does not decompress or untar, or whose diff_id differs
    │   └── UnsupportedError          a media type or schema we do not read (schema 1, foreign layers)
    ├── ArchiveError                  an import archive that is neither a `docker save` tarball nor an OCI archive
    ├── ConfigError                   an unusable registries.yaml or dockerconfigjson
    └── PullError                     a pull failed; .reference says which (the agent's ErrImagePull)
        ├── RegistryUnavailableError  no endpoint answered over HTTP (refused, TLS, DNS, timeout)
        ├── PlatformNotFoundError     a manifest list with no entry for this node's os/arch
        └── RegistryStatusError       the registry answered an error; .status, .code, .reason from its body
            ├── UnauthorizedError     401 or 403: credentials missing or refused
            ├── NotFoundError         404: unknown repository, tag or blob
            └── TooManyRequestsError  429: rate limited (Docker Hub's pull limit)

A `ContentError` or `StorageError` met during a pull is re-raised as a `PullError` chained to it
(`raise ... from`), so the agent sees one family for ErrImagePull and a person sees the root cause.
"""

from __future__ import annotations

MAX_REASON = 300
"""Characters of a registry's error text kept in an exception message."""


def truncate(text: str, limit: int = MAX_REASON) -> str:
    """truncate cuts `text` to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


class ImageError(Exception):
    """ImageError is the root of every error the images package raises on purpose."""


class InvalidReferenceError(ImageError):
    """InvalidReferenceError: the text does not parse as an image reference."""


class ImageNotFoundError(ImageError):
    """ImageNotFoundError: no image in the local store answers to this reference or id."""


class ImageInUseError(ImageError):
    """ImageInUseError: a container's lease holds the image, so its layers must stay."""


class StorageError(ImageError):
    """StorageError: writing to the store failed; whatever was half-written has been removed."""


class ContentError(ImageError):
    """ContentError: content that does not match its description; none of it was stored."""


class DigestMismatchError(ContentError):
    """DigestMismatchError: the bytes hash or measure differently from their descriptor."""


class CorruptLayerError(ContentError):
    """CorruptLayerError: a layer that does not decompress, untar, or match its diff_id."""


class UnsupportedError(ContentError):
    """UnsupportedError: a manifest schema or media type this store does not handle."""


class ArchiveError(ImageError):
    """ArchiveError: the file is neither a `docker save` tarball nor an OCI archive, or is incomplete."""


class ConfigError(ImageError):
    """ConfigError: registries.yaml or a dockerconfigjson document that cannot be used."""


class PullError(ImageError):
    """PullError: pulling `reference` failed; the message says why."""

    def __init__(self, message: str, *, reference: str = "") -> None:
        super().__init__(message)
        self.reference = reference


class RegistryUnavailableError(PullError):
    """RegistryUnavailableError: no endpoint gave an HTTP answer."""


class PlatformNotFoundError(PullError):
    """PlatformNotFoundError: the manifest list has no manifest for this node's platform."""


class RegistryStatusError(PullError):
    """RegistryStatusError: the registry answered with an error status; the reason is its own words."""

    def __init__(self, message: str, *, reference: str = "", status: int = 0, code: str = "", reason: str = "") -> None:
        super().__init__(message, reference=reference)
        self.status = status
        self.code = code
        self.reason = reason


class UnauthorizedError(RegistryStatusError):
    """UnauthorizedError: 401 or 403, the credentials were missing or refused."""


class NotFoundError(RegistryStatusError):
    """NotFoundError: 404, the repository, tag or blob does not exist."""


class TooManyRequestsError(RegistryStatusError):
    """TooManyRequestsError: 429, the registry rate-limits us."""


_BY_STATUS: dict[int, type[RegistryStatusError]] = {401: UnauthorizedError, 403: UnauthorizedError, 404: NotFoundError, 429: TooManyRequestsError}


def status_error_class(status: int) -> type[RegistryStatusError]:
    """status_error_class maps an HTTP status to the exception class raised for it."""
    return _BY_STATUS.get(status, RegistryStatusError)
