"""The errors satrec raises on purpose. The CLI turns each into one line and an exit code.

Catch by type, never by message text.
"""

from __future__ import annotations


class SatrecError(Exception):
    """A problem the user can act on; ``str(error)`` says what and how to fix it."""

    exit_code = 1


class UsageError(SatrecError):
    """A bad option value or combination."""


class SourceError(SatrecError):
    """The input (folder, list, manifest, bucket) cannot be read as a whole."""


class DestinationError(SatrecError):
    """The output location cannot be written."""


class RecordIOCorruptError(SatrecError):
    """A ``.rec``/``.idx`` file is damaged; the message names the byte offset or line."""


class RecordTooLargeError(SatrecError):
    """A payload of 2^29 bytes or more, which RecordIO cannot frame."""


class ImageRejected(SatrecError):
    """One input image cannot be packed; ``reason`` is a short stable code for rejects.jsonl."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class VerificationError(SatrecError):
    """A dataset failed ``satrec verify``."""


class HyperparameterError(SatrecError):
    """A training hyperparameter violates the SageMaker algorithm's rules."""


class ConfigError(SatrecError):
    """A deploy-time or per-dataset setting is invalid."""
