"""Settings of the latency model (fiber and LEO). Defaults are the figures in DESIGN.md and
docs/latency.md (each with its source there)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from computemoat.model.base import Frozen

C_VACUUM_KM_PER_S = 299_792.458  # exact, SI definition of the metre


class PhasePattern(StrEnum):
    """How the satellites of adjacent planes are offset in mean anomaly."""

    WALKER = "walker"  # plane p is ahead by p x F x 360 deg / T (Walker delta i:T/P/F)
    ALTERNATING_HALF_SLOT = "alternating_half_slot"  # odd planes half a slot ahead (Hypatia PHASE_DIFF)


class EarthModel(StrEnum):
    """Figure of the Earth for ground points (satellite orbits are always Earth-centred)."""

    SPHERE = "sphere"  # mean radius: fiber, ground links and the great-circle bound on one sphere
    WGS72 = "wgs72"  # the ellipsoid of SGP4 and Hypatia's ground stations
    WGS84 = "wgs84"


class Constellation(StrEnum):
    """Bundled multi-shell constellations (shell tables with sources in latency/shells.py)."""

    STARLINK_GEN1 = "starlink_gen1"  # five shells, 4,408 satellites
    KUIPER = "kuiper"  # three shells, 3,236 satellites


class LeoShell(Frozen):
    """A Walker-delta shell. Defaults: Starlink shell 1 as modeled by Hypatia (FCC filing)."""

    planes: int = Field(default=72, gt=0)
    sats_per_plane: int = Field(default=22, gt=0)
    altitude_km: float = Field(default=550.0, gt=100, le=40_000)
    inclination_deg: float = Field(default=53.0, ge=0, le=180)
    phasing: int = Field(default=1, ge=0, description="Walker F: relative phase between adjacent planes")
    phase_pattern: PhasePattern = PhasePattern.WALKER
    raan_offset_deg: float = Field(default=0.0, ge=-360, le=360, description="right ascension of plane 0")
    mean_motion_rev_per_day: float | None = Field(
        default=None, gt=0, le=17, description="orbital rate; default from altitude_km by Kepler's law"
    )


class NetworkSettings(Frozen):
    """How RTTs are computed from geography."""

    fiber_route_stretch: float = Field(default=1.2, ge=1.0, le=5.0, description="route km / great-circle km")
    fiber_refractive_index: float = Field(default=1.468, ge=1.0, le=2.0)
    fiber_overhead_ms: float = Field(default=1.0, ge=0, description="last mile + processing, added to RTT")
    leo_enabled: bool = True
    leo_shell: LeoShell = LeoShell()
    leo_shells: tuple[LeoShell, ...] = Field(default=(), description="several shells; replaces leo_shell")
    leo_constellation: Constellation | None = Field(default=None, description="a bundled multi-shell set")
    leo_isls: bool = Field(default=True, description="laser links; false = bent pipe (one satellite per hop)")
    leo_ground_relays: bool = Field(default=False, description="paths may go down to a station and up again")
    leo_access_overhead_ms: float = Field(
        default=10.0, ge=0, description="user terminal + gateway processing, added to every LEO RTT"
    )
    min_elevation_deg: float = Field(default=25.0, ge=0, le=90)
    max_gsl_km: float | None = Field(default=None, gt=0, description="ground links longer than this are dropped")
    earth_model: EarthModel = EarthModel.SPHERE
    max_isl_km: float | None = Field(default=None, gt=0, description="ISLs longer than this are dropped")
    leo_hop_processing_ms: float = Field(default=0.0, ge=0, description="added per satellite hop (RTT)")
    leo_site_fallback: Literal["fiber", "none"] = Field(
        default="fiber",
        description="site without ground station: via nearest station + fiber, or not reachable by LEO",
    )
    leo_epoch: datetime | None = Field(
        default=None, description="UTC time of t=0 (Greenwich angle); default: Greenwich at RA 0, or the TLE epoch"
    )
    leo_window_start_s: float = Field(default=0.0, ge=0, description="first snapshot, s after t=0")
    leo_window_s: int = Field(default=86_400, gt=0, description="a day: covers the ground-track pattern")
    leo_step_s: int = Field(default=60, gt=0, description="< 1/4 of the shortest satellite pass")
    tle_file: str | None = Field(default=None, description="real TLEs (sgp4) instead of the Walker shell")

    @model_validator(mode="after")
    def _one_constellation(self) -> NetworkSettings:
        given = [name for name, v in (("leo_shells", self.leo_shells), ("leo_constellation", self.leo_constellation),
                                      ("tle_file", self.tle_file)) if v]
        if len(given) > 1:
            raise ValueError(f"give one of {', '.join(given)} (they each define the whole constellation)")
        return self
