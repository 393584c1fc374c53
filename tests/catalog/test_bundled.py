from __future__ import annotations

from computemoat.catalog import bundled_catalog, default_scenario
from computemoat.catalog.bundled import data_path


def test_every_bundled_number_has_a_source_and_is_sane() -> None:
    c = bundled_catalog()
    assert {p.name for p in c.providers} == {"aws", "gcp", "lambda", "nebius"}
    assert len(c.offerings) == 115  # rows of offerings.csv (SOURCES.md: row counts)
    assert len(c.sites) == 51
    for o in c.offerings:
        assert o.source.startswith("skypilot-org/skypilot-catalog"), o.id
        assert o.usd_per_gpu_hour_on_demand > 0 and o.capacity_gpus > 0
        if o.usd_per_gpu_hour_spot is not None:
            assert o.usd_per_gpu_hour_spot < o.usd_per_gpu_hour_on_demand
    for s in c.sites:
        assert s.source and -90 <= s.lat_deg <= 90 and -180 <= s.lon_deg <= 180
        assert (s.lat_deg, s.lon_deg) != (0.0, 0.0)
    for p in c.providers:
        assert p.source
    for a in c.accelerators:
        assert "datasheet" in a.source or "specifications" in a.source


def test_per_gpu_price_is_instance_price_over_gpus() -> None:
    """The conversion keeps the CSV's per-GPU column; check it against the instance price column."""
    import csv

    with data_path("offerings.csv").open() as f:
        rows = {f"{r['provider']}:{r['region']}:{r['instance_type']}": r for r in csv.DictReader(f)}
    for o in bundled_catalog().offerings:
        r = rows[o.id]
        assert abs(o.usd_per_gpu_hour_on_demand * o.gpus_per_instance - float(r["usd_per_hour_on_demand"])) < 1e-3


def test_known_price_aws_p5_us_east_1() -> None:
    o = next(o for o in bundled_catalog().offerings if o.id == "aws:us-east-1:p5.48xlarge")
    assert o.accelerator == "H100" and o.gpus_per_instance == 8
    assert abs(o.usd_per_gpu_hour_on_demand * 8 - 55.04) < 0.01  # SOURCES.md: $55.04/h after June 2025 cut


def test_provider_subset_and_capacity_override() -> None:
    c = bundled_catalog(["nebius"], {"H200": 4096})
    assert {s.provider for s in c.sites} == {"nebius"}
    assert {o.capacity_gpus for o in c.offerings if o.accelerator == "H200"} == {4096}


def test_default_scenario_is_complete_and_labelled() -> None:
    s = default_scenario()
    assert {"aws", "gcp", "lambda", "nebius", "atlas", "orbitedge"} == {p.name for p in s.providers}
    assert all(p.illustrative for p in s.providers if p.name in ("atlas", "orbitedge"))
    assert any(j.gpus == 16384 and j.hours == 1440 for j in s.training_jobs)
    continents = {r.country_iso2 for r in s.user_regions}
    assert {"US", "GB", "BR", "NG", "JP"} <= continents
    assert len(s.user_regions) == 20
    assert any(site.ground_station for site in s.sites)
