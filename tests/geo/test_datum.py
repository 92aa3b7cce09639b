"""GCJ-02 / BD-09 conversions: reference pairs, an independent implementation, round trips."""

from __future__ import annotations

import math

import coordTransform as ct  # independent implementation of the published formulas
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnplan.errors import InputError
from lnplan.geo import datum


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# Reference pairs (WGS-84 -> GCJ-02 -> BD-09), computed with the published formulas as printed in
# the README examples of eviltransform/coordTransform and reproduced to 1e-6 degrees.
REFERENCE = [
    # Tiananmen, the classic example of the formulas' authors
    ((116.397128, 39.916527), (116.403370, 39.917930)),
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_forward_matches_published_pair(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = datum.wgs84_to_gcj02(*wgs)
    assert metres(float(lon), float(lat), *gcj) < 1.0


LIAONING_PLACES = [
    (123.4315, 41.8057),  # Shenyang
    (121.6147, 38.9140),  # Dalian
    (124.3827, 40.1290),  # Dandong
    (119.4500, 41.5800),  # Chaoyang, west
    (122.6000, 39.2600),  # Changhai islands
]


@pytest.mark.parametrize(("lon", "lat"), LIAONING_PLACES)
def test_forward_matches_independent_implementation(lon: float, lat: float) -> None:
    g = datum.wgs84_to_gcj02(lon, lat)
    assert np.allclose(g, ct.wgs84_to_gcj02(lon, lat), atol=1e-9)
    b = datum.wgs84_to_bd09(lon, lat)
    assert np.allclose(b, ct.wgs84_to_bd09(lon, lat), atol=1e-9)


@pytest.mark.parametrize(("lon", "lat"), LIAONING_PLACES)
def test_offset_is_hundreds_of_metres_in_liaoning(lon: float, lat: float) -> None:
    g_lon, g_lat = datum.wgs84_to_gcj02(lon, lat)
    assert 200 < metres(lon, lat, float(g_lon), float(g_lat)) < 1000


@pytest.mark.parametrize(("lon", "lat"), LIAONING_PLACES)
def test_inverse_beats_the_one_step_inverse(lon: float, lat: float) -> None:
    g = ct.wgs84_to_gcj02(lon, lat)
    ours = datum.gcj02_to_wgs84(*g)
    assert metres(lon, lat, float(ours[0]), float(ours[1])) < 0.001


def test_vectorised_matches_scalar() -> None:
    lon = np.array([p[0] for p in LIAONING_PLACES])
    lat = np.array([p[1] for p in LIAONING_PLACES])
    v_lon, v_lat = datum.gcj02_to_wgs84(*datum.wgs84_to_gcj02(lon, lat))
    assert np.allclose(v_lon, lon, atol=1e-8)
    assert np.allclose(v_lat, lat, atol=1e-8)


def test_outside_china_unchanged() -> None:
    lon, lat = datum.wgs84_to_gcj02(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


liaoning_lon = st.floats(min_value=118.0, max_value=126.0, allow_nan=False)
liaoning_lat = st.floats(min_value=38.0, max_value=44.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(liaoning_lon, liaoning_lat)
def test_round_trip_gcj02_within_1m(lon: float, lat: float) -> None:
    back = datum.gcj02_to_wgs84(*datum.wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, float(back[0]), float(back[1])) < 1.0


@settings(max_examples=300, deadline=None)
@given(liaoning_lon, liaoning_lat)
def test_round_trip_bd09_within_1m(lon: float, lat: float) -> None:
    back = datum.bd09_to_wgs84(*datum.wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, float(back[0]), float(back[1])) < 1.0


@settings(max_examples=200, deadline=None)
@given(liaoning_lon, liaoning_lat)
def test_to_wgs84_dispatches(lon: float, lat: float) -> None:
    g = datum.wgs84_to_gcj02(lon, lat)
    w = datum.to_wgs84(*g, "GCJ-02")
    assert metres(lon, lat, float(w[0]), float(w[1])) < 1.0
    assert datum.to_wgs84(lon, lat, "wgs84") == (lon, lat)


def test_unknown_datum_is_an_error() -> None:
    with pytest.raises(InputError, match="unknown coordinate datum 'utm'; accepted: wgs84"):
        datum.to_wgs84(1.0, 2.0, "utm")


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(InputError, match="lon and lat differ in shape"):
        datum.wgs84_to_gcj02([1.0, 2.0], [3.0])
