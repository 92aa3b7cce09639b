"""Demo households keep clear of every shared point (townships, candidates, facilities)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from lnplan.geo.synth import HOUSEHOLD_CLEARANCE_M, _clear_of, _off_lattice


def test_points_on_or_near_public_points_are_moved_out() -> None:
    public = np.array([[0.0, 0.0], [1000.0, 0.0]])
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [500.0, 0.0], [1000.0, 10.0]])
    out = _clear_of(xy, public, 25.0, np.random.default_rng(0))
    dist, _ = cKDTree(public).query(out)
    assert (dist >= 25.0).all()
    np.testing.assert_array_equal(out[2], xy[2])  # far points stay where they were
    np.testing.assert_allclose(out[1] / np.hypot(*out[1]), [0.6, 0.8])  # moved straight away


def test_quick_world_households_clear_of_shared_points() -> None:
    from pathlib import Path

    from lnplan.geo.boundaries import METRIC_CRS
    from lnplan.scenario import load_scenario
    from lnplan.world import build_world

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml")
    w = build_world(sc)
    pts = [p.to_crs(METRIC_CRS) for p in (w.townships, w.candidates, w.facilities)]
    public = np.vstack([np.column_stack([p.geometry.x, p.geometry.y]) for p in pts])
    hh = w.households.to_crs(METRIC_CRS)
    dist, _ = cKDTree(public).query(np.column_stack([hh.geometry.x, hh.geometry.y]))
    assert dist.min() >= HOUSEHOLD_CLEARANCE_M * 0.5
    xy = np.column_stack([hh.geometry.x, hh.geometry.y])
    assert np.hypot(*(xy - np.round(xy / 100.0) * 100.0).T).min() >= 1.9  # off grid corners


def test_points_near_grid_corners_are_moved_off() -> None:
    xy = np.array([[2000.0, 4000.0], [2000.5, 4000.0], [2050.0, 4050.0], [1999.0, 3999.0]])
    out = _off_lattice(xy, 100.0, 2.0)
    corner = np.round(out / 100.0) * 100.0
    assert (np.hypot(*(out - corner).T) >= 2.0).all()
    np.testing.assert_array_equal(out[2], xy[2])
