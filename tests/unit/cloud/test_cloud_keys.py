"""The cloud key conventions in satrec.layout."""

from __future__ import annotations

import pytest

from satrec import layout
from satrec.errors import UsageError


def test_normalised_key_keeps_class_and_subfolders_and_tags_the_key_digest() -> None:
    key = "incoming/eurosat/Forest/2024/a b.png"
    out = layout.normalised_key(key, "jpg")
    assert out == f"normalised/eurosat/Forest/2024/a b-{layout.key_digest(key)}.jpg"


def test_same_stem_with_different_extensions_do_not_collide() -> None:
    assert layout.normalised_key("incoming/d/c/a.png", "jpg") != layout.normalised_key("incoming/d/c/a.jpg", "jpg")


def test_ledger_key_is_per_dataset_and_per_landing_key() -> None:
    assert layout.ledger_key("d", "incoming/d/c/a.jpg").startswith("ledger/d/")
    assert layout.ledger_key("d", "incoming/d/c/a.jpg") != layout.ledger_key("d", "incoming/d/c/b.jpg")


def test_normalised_key_refuses_keys_outside_the_landing_layout() -> None:
    with pytest.raises(UsageError):
        layout.normalised_key("elsewhere/a.jpg", "jpg")


def test_settings_and_batch_keys() -> None:
    assert layout.dataset_settings_key("eurosat") == "incoming/eurosat/satrec.json"
    assert layout.batch_key("abc") == "batches/abc.json"
