"""Per-dataset conversion settings: ``incoming/<dataset>/satrec.json`` over the stack's defaults.

Both are ``satrec.imaging.ImageSettings`` dictionaries (the same options as ``satrec convert``):
the stack passes its defaults (context key ``dataset_defaults``) to the container as JSON in
``SATREC_DEFAULT_SETTINGS``, and a dataset's own file overrides any subset of them. One
validation (``ImageSettings.from_dict``) serves the CLI, the stack and the container.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from satrec.errors import ConfigError, UsageError
from satrec.imaging import ImageSettings

ENV_DEFAULTS = "SATREC_DEFAULT_SETTINGS"


def parse_settings(data: Any, *, source: str, base: dict[str, Any] | None = None) -> ImageSettings:
    """Validate ``data`` (a dict or JSON text) laid over ``base``; errors name ``source``."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a JSON object such as {{\"resize\": 224, \"min_size\": 224}}")
    try:
        return ImageSettings.from_dict({**(base or {}), **data})
    except UsageError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: a value has the wrong type ({exc})") from None


def settings_digest(settings: ImageSettings) -> str:
    """Changes whenever a setting changes: ledger entries made under other settings are redone."""
    return hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
