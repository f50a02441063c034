"""The chip recipe survives dataset.json and refuses documents that are not recipes."""

from __future__ import annotations

import json

import pytest

from satrec.errors import UsageError
from satrec.geo.recipe import Recipe, recipe_from_dataset_json


def _recipe() -> Recipe:
    return Recipe(bands=(4, 3, 2), stretch=((12.0, 3000.0), (20.0, 2800.0), (5.0, 2500.0)),
                  stretch_method="percentile", gamma=1.2, chip=256, stride=128, percentiles=(2.0, 98.0),
                  sample={"scenes": 2, "pixels": 1000, "side": 1024}, source_dtype="uint16",
                  split_unit="block", split_block=2048, labels="raster", min_purity=0.6)


def test_recipe_round_trips_through_a_dataset_json():
    recipe = _recipe()
    text = json.dumps({"format": "satrec.dataset", "recipe": recipe.to_dict()})
    assert recipe_from_dataset_json(text) == recipe
    assert recipe_from_dataset_json(json.dumps(recipe.to_dict())) == recipe


def test_a_dataset_without_chipping_has_no_recipe():
    with pytest.raises(UsageError, match="no chip recipe"):
        recipe_from_dataset_json(json.dumps({"format": "satrec.dataset", "recipe": None}))


def test_inconsistent_or_foreign_documents_are_refused():
    bad = _recipe().to_dict()
    bad["stretch"]["per_band"] = bad["stretch"]["per_band"][:2]
    with pytest.raises(UsageError, match="one stretch"):
        Recipe.from_dict(bad)
    with pytest.raises(UsageError, match="not a satrec chip recipe"):
        Recipe.from_dict({"bands": [1]})
    with pytest.raises(UsageError, match="not valid JSON"):
        recipe_from_dataset_json("{")
