"""The stretch: exact percentiles from pooled histograms, monotonic 8-bit mapping, empty pixels."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from satrec.geo.scene import SceneInfo
from satrec.geo.stretch import PercentilePool, apply_stretch, empty_mask, sample_windows


def _info(nodata=None, count=3) -> SceneInfo:
    return SceneInfo(path="x", width=8, height=8, count=count, dtype="uint16", crs=None, transform=None,
                     nodata=(nodata,) * count, colorinterp=("gray",) * count, alpha_band=None)


@settings(max_examples=40, deadline=None)
@given(values=arrays(np.uint16, st.integers(1, 400), elements=st.integers(0, 65535)),
       low=st.floats(0, 49), high=st.floats(51, 100))
def test_pooled_histogram_percentiles_equal_numpys(values, low, high):
    pool = PercentilePool(1, "uint16")
    half = values.size // 2
    pool.add([values[:half]])
    pool.add([values[half:]])
    (got,) = pool.percentiles(low, high)
    expected = np.percentile(values, [low, high], method="inverted_cdf")
    lo, hi = float(expected[0]), float(expected[1])
    assert got == ((lo, hi) if hi > lo else (lo, lo + 1.0))


def test_int16_and_float_pools():
    pool = PercentilePool(1, "int16")
    pool.add([np.array([-500, -1, 0, 7, 300], dtype=np.int16)])
    assert pool.percentiles(0, 100) == [(-500.0, 300.0)]
    fpool = PercentilePool(1, "float32")
    fpool.add([np.linspace(0, 1, 101, dtype=np.float32)])
    lo, hi = fpool.percentiles(10, 90)[0]
    assert abs(lo - 0.1) < 1e-6 and abs(hi - 0.9) < 1e-6


@settings(max_examples=40, deadline=None)
@given(lo=st.integers(0, 30000), span=st.integers(1, 30000), gamma=st.sampled_from([0.5, 1.0, 2.2]))
def test_stretch_is_monotonic_and_spans_0_to_255(lo, span, gamma):
    hi = lo + span
    ramp = np.linspace(max(0, lo - span), hi + span, 512).astype(np.float32).reshape(1, 8, 64)
    out = apply_stretch(ramp, ((float(lo), float(hi)),), gamma)
    flat = out[..., 0].ravel()
    assert np.all(np.diff(flat.astype(int)) >= 0)
    assert flat[0] == 0 and flat[-1] == 255
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_empty_pixels_nodata_zero_nan_and_alpha():
    data = np.full((3, 2, 4), 100, dtype=np.uint16)
    data[:, 0, 0] = 9            # nodata in every band
    data[0, 0, 1] = 9            # nodata in one band only: still data
    data[:, 0, 2] = 0            # zero in every band
    alpha = np.full((2, 4), 255, dtype=np.uint8)
    alpha[1, 3] = 0
    mask = empty_mask(data, _info(nodata=9), (1, 2, 3), alpha)
    assert mask.tolist() == [[True, False, True, False], [False, False, False, True]]
    floats = np.ones((1, 1, 3), dtype=np.float32)
    floats[0, 0, 1] = np.nan
    assert empty_mask(floats, _info(count=1), (1,), None).tolist() == [[False, True, False]]
    out = apply_stretch(data.astype(np.float32), ((0.0, 200.0),) * 3, 1.0, mask)
    assert out[0, 0].tolist() == [0, 0, 0] and out[1, 0].tolist() == [128, 128, 128]


def test_sample_windows_spread_over_large_scenes_and_take_small_ones_whole():
    assert sample_windows(500, 300, 1024) == [(0, 0, 500, 300)]
    windows = sample_windows(10980, 10980, 1024)
    assert len(windows) == 256 and all(w == h == 64 for _, _, w, h in windows)
    assert min(c for c, _, _, _ in windows) == 0 and max(c + w for c, _, w, _ in windows) == 10980
