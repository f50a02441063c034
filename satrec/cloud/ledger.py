"""Ledger entries: one JSON document per landing key, the record that an input was accounted for.

``ledger/<dataset>/<digest of the landing key>.json`` in the data bucket. The converter writes
the normalised image first and the entry last, so an entry's presence means its output exists.
It holds no timestamps: a re-run over the same input writes nothing new.

Version 2 adds scenes: a GeoTIFF upload is cut into many chips, so its entry lists them in
``outputs`` (key, pixel window, bounds) with the ``scene`` facts and the chip ``recipe`` actually
used (per-scene percentile stretches differ from scene to scene). Single-image entries keep
``output_key``; version-1 entries read as entries without ``outputs``. ``output_keys`` serves both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from satrec.errors import SatrecError

LEDGER_FORMAT = "satrec.ledger"
LEDGER_VERSION = 2   # 2: outputs / scene / recipe for chipped scenes
CONVERTED = "converted"
REJECTED = "rejected"


@dataclass(frozen=True)
class LedgerEntry:
    dataset: str
    class_name: str
    source_key: str
    source_version_id: str | None
    source_etag: str | None
    source_sequencer: str | None
    settings_digest: str
    status: str                       # converted | rejected
    output_key: str | None = None     # normalised image (converted only)
    width: int | None = None
    height: int | None = None
    passed_through: bool = False
    reason: str | None = None         # a stable code (rejected only), as in rejects.jsonl
    detail: str | None = None
    satrec_version: str = ""
    # Scenes (version 2): one dict per chip written, {"key", "width", "height", "window", "bounds",
    # "lonlat_bounds", "empty_fraction"}; the scene's facts and chip counts; the recipe used.
    outputs: list[dict[str, Any]] = field(default_factory=list)
    scene: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None

    @property
    def output_keys(self) -> list[str]:
        """Every normalised object this entry accounts for (one image, or a scene's chips)."""
        keys = [str(o["key"]) for o in self.outputs]
        if self.output_key and self.output_key not in keys:
            keys.insert(0, self.output_key)
        return keys

    def is_current_for(self, *, version_id: str | None, etag: str | None, settings_digest: str) -> bool:
        """True when this entry already accounts for that object version under those settings."""
        same_object = (self.source_version_id == version_id) if version_id else (self.source_etag == etag)
        return same_object and self.settings_digest == settings_digest

    def to_dict(self) -> dict[str, Any]:
        return {"format": LEDGER_FORMAT, "version": LEDGER_VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> LedgerEntry:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SatrecError(f"ledger entry is not valid JSON: {exc}") from None
        if data.get("format") != LEDGER_FORMAT:
            raise SatrecError(f"not a satrec ledger entry (format {data.get('format')!r})")
        if int(data.get("version", 0)) > LEDGER_VERSION:
            raise SatrecError(f"ledger entry version {data['version']} is newer than this satrec; upgrade satrec")
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})
