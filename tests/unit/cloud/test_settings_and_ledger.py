"""Per-dataset settings validation and ledger entries."""

from __future__ import annotations

import pytest

from satrec.cloud.ledger import CONVERTED, LedgerEntry
from satrec.cloud.settings import parse_settings, settings_digest
from satrec.errors import ConfigError


def test_dataset_file_overrides_stack_defaults() -> None:
    settings = parse_settings('{"resize": 64}', source="s3://b/incoming/d/satrec.json",
                              base={"resize": 224, "min_size": 224})
    assert (settings.resize, settings.min_size) == (64, 224)


@pytest.mark.parametrize(("text", "needle"), [
    ("{", "not valid JSON"),
    ("[1]", "must hold a JSON object"),
    ('{"colour": 1}', "colour"),
    ('{"quality": 500}', "quality"),
    ('{"encoding": ".gif"}', "encoding"),
])
def test_invalid_settings_name_the_file_and_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, source="s3://b/incoming/d/satrec.json")
    assert "incoming/d/satrec.json" in str(info.value)
    assert needle in str(info.value)


def test_digest_changes_with_any_setting() -> None:
    a = parse_settings({}, source="x")
    b = parse_settings({"quality": 90}, source="x")
    assert settings_digest(a) == settings_digest(parse_settings({}, source="y"))
    assert settings_digest(a) != settings_digest(b)


def entry(**overrides: object) -> LedgerEntry:
    values: dict[str, object] = dict(dataset="d", class_name="c", source_key="incoming/d/c/a.jpg",
                                     source_version_id="v1", source_etag="e1", source_sequencer="01",
                                     settings_digest="s1", status=CONVERTED, output_key="normalised/d/c/a-x.jpg")
    values.update(overrides)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def test_entry_is_current_only_for_the_same_version_and_settings() -> None:
    e = entry()
    assert e.is_current_for(version_id="v1", etag="other", settings_digest="s1")
    assert not e.is_current_for(version_id="v2", etag="e1", settings_digest="s1")
    assert not e.is_current_for(version_id="v1", etag="e1", settings_digest="s2")
    unversioned = entry(source_version_id=None)
    assert unversioned.is_current_for(version_id=None, etag="e1", settings_digest="s1")
    assert not unversioned.is_current_for(version_id=None, etag="e2", settings_digest="s1")


def test_entry_round_trips_and_has_no_timestamps() -> None:
    e = entry()
    assert LedgerEntry.from_json(e.to_json()) == e
    assert e.to_json() == entry().to_json()
