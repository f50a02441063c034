"""Chipping options parse into validated values; every bad value names its option."""

from __future__ import annotations

import pytest

from satrec.errors import UsageError
from satrec.geo.options import StretchSpec, make_options, parse_bands, parse_stretch


def test_bands_are_one_based_in_any_order():
    assert parse_bands("4,3,2") == (4, 3, 2)
    assert parse_bands(" 8 ") == (8,)


@pytest.mark.parametrize("text", ["0,1,2", "4,3", "a,b,c", "1,2,3,4", ""])
def test_bad_band_lists_are_refused_naming_the_option(text):
    with pytest.raises(UsageError, match="--bands"):
        parse_bands(text)


def test_stretch_forms():
    assert parse_stretch("p2,p98") == StretchSpec(percentiles=(2.0, 98.0))
    assert parse_stretch("0,3000") == StretchSpec(fixed=((0.0, 3000.0),))
    assert parse_stretch("0,3000/10,2800;5,2500").fixed == ((0, 3000), (10, 2800), (5, 2500))
    assert parse_stretch("p0.5,p99.5").text() == "p0.5,p99.5"
    assert parse_stretch("0,3000/0,2800/0,2500").text() == "0,3000/0,2800/0,2500"


@pytest.mark.parametrize("text", ["p98,p2", "p2", "p2,p101", "3000,0", "1,1", "x,y", "0,1/0,2", "p2,98"])
def test_bad_stretches_are_refused_naming_the_option(text):
    with pytest.raises(UsageError, match="--stretch"):
        parse_stretch(text)


def test_make_options_defaults_stride_to_the_chip():
    opts = make_options(chip=256, bands="4,3,2", stretch="p2,p98")
    assert opts.effective_stride == 256 and opts.bands == (4, 3, 2) and opts.nodata_max == 0.5


@pytest.mark.parametrize(("kwargs", "option"), [
    ({"chip": 4}, "--chip"),
    ({"stride": 64}, "--stride"),
    ({"chip": 64, "stride": 0}, "--stride"),
    ({"chip": 64, "split_block": 32}, "--split-block"),
    ({"split_block": 512}, "--split-block"),
    ({"nodata_max": "1.5"}, "--nodata-max"),
    ({"min_purity": "-0.1"}, "--min-purity"),
    ({"gamma": "0"}, "--gamma"),
    ({"gamma": "abc"}, "--gamma"),
    ({"bands": "4", "stretch": "0,1/0,2/0,3"}, "--stretch"),
])
def test_bad_option_values_are_usage_errors(kwargs, option):
    with pytest.raises(UsageError, match=option):
        make_options(**kwargs)


def test_settings_documents_use_the_same_rules():
    from satrec.geo.options import options_from_dict

    opts = options_from_dict({"chip": 256, "bands": [4, 3, 2], "stretch": "p2,p98", "split_block": 2048})
    assert opts.bands == (4, 3, 2) and opts.split_block == 2048
    with pytest.raises(UsageError, match="unknown scene setting"):
        options_from_dict({"chips": 256})
    with pytest.raises(UsageError, match="--bands"):
        options_from_dict({"bands": [0, 1, 2]})
