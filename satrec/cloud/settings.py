"""Per-dataset conversion settings: ``incoming/<dataset>/satrec.json`` over the stack's defaults.

Both are ``satrec.imaging.ImageSettings`` dictionaries (the same options as ``satrec convert``):
the stack passes its defaults (context key ``dataset_defaults``) to the container as JSON in
``SATREC_DEFAULT_SETTINGS``, and a dataset's own file overrides any subset of them. One
validation (``ImageSettings.from_dict``) serves the CLI, the stack and the container.

An optional ``scenes`` object holds the scene (GeoTIFF) chipping options, the ``satrec convert``
scene options with ``_`` for ``-`` (``{"chip": 256, "bands": [4, 3, 2], "stretch": "0,3000"}``),
validated by ``satrec.geo.options.options_from_dict``. It changes only the digest of scene uploads,
so adding it does not redo a dataset's plain images.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from satrec.errors import ConfigError, UsageError
from satrec.geo.options import ChipOptions, options_from_dict
from satrec.imaging import ImageSettings

ENV_DEFAULTS = "SATREC_DEFAULT_SETTINGS"
SCENES_KEY = "scenes"


@dataclass(frozen=True)
class DatasetSettings:
    image: ImageSettings
    scenes: ChipOptions | None          # None: TIFFs chip only when plain decoding would get them wrong
    scenes_given: dict[str, Any] | None  # the ``scenes`` object as written (part of the scene digest)


def parse_dataset_settings(data: Any, *, source: str, base: dict[str, Any] | None = None) -> DatasetSettings:
    """Image settings and scene options from ``data`` (a dict or JSON text) laid over ``base``."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a JSON object such as {{\"resize\": 224, \"min_size\": 224}}")
    merged = {**(base or {}), **data}
    scenes_given = merged.pop(SCENES_KEY, None)
    image = _image_settings(merged, source)
    if scenes_given is None:
        return DatasetSettings(image, None, None)
    if not isinstance(scenes_given, dict):
        raise ConfigError(f"{source}: \"scenes\" must be an object such as "
                          "{\"chip\": 256, \"bands\": [4, 3, 2], \"stretch\": \"p2,p98\"}")
    if scenes_given.get("label_raster") is not None:
        raise ConfigError(f"{source}: scenes.label_raster is not supported for uploads (the container chips one "
                          "uploaded scene at a time and labels its chips with the class folder); convert scenes with "
                          "label rasters locally with satrec convert --label-raster")
    if scenes_given.get("split_block") is not None:
        raise ConfigError(f"{source}: scenes.split_block is not supported for uploads (the pipeline keeps each "
                          "uploaded scene's chips in one split); upload several smaller scenes instead, or "
                          "convert locally with satrec convert --split-block")
    try:
        options = options_from_dict(scenes_given, source=f"{source} scenes")
    except UsageError as exc:
        raise ConfigError(f"{source}: scenes: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: scenes: a value has the wrong type ({exc})") from None
    return DatasetSettings(image, options, dict(scenes_given))


def parse_settings(data: Any, *, source: str, base: dict[str, Any] | None = None) -> ImageSettings:
    """Validate ``data`` (a dict or JSON text) laid over ``base``; errors name ``source``.

    The image settings only (a ``scenes`` object is validated too; see ``parse_dataset_settings``)."""
    return parse_dataset_settings(data, source=source, base=base).image


def _image_settings(data: dict[str, Any], source: str) -> ImageSettings:
    try:
        return ImageSettings.from_dict(data)
    except UsageError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: a value has the wrong type ({exc})") from None


def settings_digest(settings: ImageSettings) -> str:
    """Changes whenever a setting changes: ledger entries made under other settings are redone."""
    return hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def scene_settings_digest(settings: DatasetSettings) -> str:
    """The digest of scene uploads: the image settings and the scene options as written."""
    if settings.scenes_given is None:
        return settings_digest(settings.image)
    text = json.dumps({"image": settings.image.to_dict(), SCENES_KEY: settings.scenes_given}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
