"""Settings of the latency model (fiber and LEO). Defaults are the figures in DESIGN.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from computemoat.model.base import Frozen

C_VACUUM_KM_PER_S = 299_792.458  # exact, SI definition of the metre


class LeoShell(Frozen):
    """A Walker-delta shell. Defaults: Starlink shell 1 as modeled by Hypatia (FCC filing)."""

    planes: int = Field(default=72, gt=0)
    sats_per_plane: int = Field(default=22, gt=0)
    altitude_km: float = Field(default=550.0, gt=100, le=40_000)
    inclination_deg: float = Field(default=53.0, ge=0, le=180)
    phasing: int = Field(default=1, ge=0, description="Walker F: relative phase between adjacent planes")


class NetworkSettings(Frozen):
    """How RTTs are computed from geography."""

    fiber_route_stretch: float = Field(default=1.5, ge=1.0, le=5.0, description="route km / great-circle km")
    fiber_refractive_index: float = Field(default=1.468, ge=1.0, le=2.0)
    fiber_overhead_ms: float = Field(default=1.0, ge=0, description="last mile + processing, added to RTT")
    leo_enabled: bool = True
    leo_shell: LeoShell = LeoShell()
    min_elevation_deg: float = Field(default=25.0, ge=0, le=90)
    max_isl_km: float | None = Field(default=None, gt=0, description="ISLs longer than this are dropped")
    leo_hop_processing_ms: float = Field(default=0.0, ge=0, description="added per satellite hop (RTT)")
    leo_site_fallback: Literal["fiber", "none"] = Field(
        default="fiber",
        description="site without ground station: via nearest station + fiber, or not reachable by LEO",
    )
    leo_window_s: int = Field(default=600, gt=0)
    leo_step_s: int = Field(default=10, gt=0)
    tle_file: str | None = Field(default=None, description="real TLEs (sgp4) instead of the Walker shell")
