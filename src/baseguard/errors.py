"""The error family: one root, one subclass per area, each with a hint for the user.

The CLI catches :class:`BaseguardError` once and prints ``message`` and ``hint``; a
traceback is shown only with ``-v``. Library code raises these and never prints.
"""

from __future__ import annotations


class BaseguardError(Exception):
    """Root of every error baseguard raises on purpose.

    ``message`` says what went wrong and names the input; ``hint`` says what the user can do.
    ``exit_code`` is 2 (usage or input error) unless a subclass says otherwise.
    """

    exit_code: int = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(BaseguardError):
    """A command was called with arguments that cannot work together."""


class InvalidReferenceError(BaseguardError):
    """An image reference could not be parsed."""


class ImageError(BaseguardError):
    """An image could not be opened or read (source, manifest, config, layout)."""


class ImageNotFoundError(ImageError):
    """The image, tag, manifest or blob does not exist where the reference points."""


class PlatformError(ImageError):
    """The image has no manifest for the requested platform."""


class DigestMismatchError(ImageError):
    """Content did not hash to the digest that named it."""


class LayerError(ImageError):
    """A layer is corrupt, truncated, or breaks a safety rule."""


class LimitExceededError(LayerError):
    """A configured limit (decompressed bytes, file count, …) was exceeded."""


class RegistryError(ImageError):
    """A registry answered with an error or could not be reached."""


class AuthError(RegistryError):
    """The registry refused our credentials, or asked for credentials we do not have."""


class AnalysisError(BaseguardError):
    """Analysing an image's contents failed."""
