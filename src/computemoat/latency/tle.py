"""Real constellations from a TLE file, propagated with SGP4 (the ``sgp4`` package).

A TLE file does not say which satellite is in which plane, and the +Grid links need it. So the
planes are found from the elements: every satellite is propagated to t=0, its orbit normal gives
its plane (right ascension of the ascending node and inclination) and its position the argument of
latitude (its slot). Satellites are grouped at the largest gaps in right ascension; a file whose
satellites do not form ``planes`` planes of ``sats_per_plane`` at one inclination is refused with
one line. Listing order in the file is irrelevant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from computemoat.latency.constellation import FloatArray, IntArray, WalkerShell, inertial_to_earth_fixed
from computemoat.model.errors import UserError

SECONDS_PER_DAY = 86_400.0
_MAX_INCLINATION_SPREAD_DEG = 1.0  # one shell: its planes share an inclination (J2 keeps it)
_U_ZERO_DEG = 0.01  # arguments of latitude within this below 0 deg start a plane's canonical ring
_TIE_SLOTS = 1e-3  # alignments this close count as equal; then the smallest shift wins (Hypatia: 0)


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 columns (digits count, '-' counts 1)."""
    return sum(int(ch) if ch.isdigit() else ch == "-" for ch in line[:68]) % 10


@dataclass(frozen=True)
class TleConstellation:
    """Satellites from TLEs, ``lines`` ordered plane by plane (by right ascension) and by argument
    of latitude within a plane; ``cross_shifts[p]`` is the slot offset of the links from plane p to
    plane p+1 (the last one is the seam to plane 0). t=0 is ``start_jd``."""

    planes: int
    sats_per_plane: int
    lines: tuple[tuple[str, str], ...]
    start_jd: float
    cross_shifts: tuple[int, ...] = ()

    @property
    def n_sats(self) -> int:
        return len(self.lines)

    @property
    def min_radius_km(self) -> float:
        return float(np.linalg.norm(self.positions_ecef_km([0.0])[0], axis=1).min())

    def teme_km(self, t_s: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """TEME positions and velocities, ``(T, N, 3)`` each, at ``t_s`` after t=0."""
        from sgp4.api import Satrec, SatrecArray

        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        sats = SatrecArray([Satrec.twoline2rv(a, b) for a, b in self.lines])
        whole = np.floor(self.start_jd)
        err, r_teme, v_teme = sats.sgp4(np.full_like(t, whole), (self.start_jd - whole) + t / SECONDS_PER_DAY)
        if np.any(err):
            k, i = np.argwhere(err)[0]
            raise UserError(
                f"TLE satellite #{k + 1}: SGP4 error code {err[k, i]} at t={t[i]:.0f} s "
                "(decayed or invalid elements; use a fresher TLE file)"
            )
        return np.swapaxes(r_teme, 0, 1), np.swapaxes(v_teme, 0, 1)

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        from sgp4.propagation import gstime

        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        r_teme, _ = self.teme_km(t)
        # TEME -> Earth-fixed: rotate by Greenwich mean sidereal time (polar motion neglected)
        return inertial_to_earth_fixed(r_teme, t, float(gstime(self.start_jd)))

    def isl_pairs(self) -> tuple[IntArray, IntArray]:
        p, s = self.planes, self.sats_per_plane
        k = np.arange(p * s)
        plane, slot = np.divmod(k, s)
        shifts = np.asarray(self.cross_shifts or (0,) * p, dtype=np.int64)
        in_plane = plane * s + (slot + 1) % s
        cross = ((plane + 1) % p) * s + (slot + shifts[plane]) % s
        pairs = np.unique(np.sort(np.stack([np.concatenate([k, k]), np.concatenate([in_plane, cross])], 1), 1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def orbit_elements_deg(r_km: FloatArray, v_km_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Right ascension of the ascending node, inclination and argument of latitude (degrees, RAAN and
    argument in [0, 360)) of inertial states ``(N, 3)``."""
    h = np.cross(r_km, v_km_s)
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    raan = np.arctan2(h[:, 0], -h[:, 1])
    node = np.stack([np.cos(raan), np.sin(raan), np.zeros_like(raan)], axis=1)
    along = np.cross(h, node)
    u = np.arctan2(np.einsum("ij,ij->i", r_km, along), np.einsum("ij,ij->i", r_km, node))
    return np.degrees(raan) % 360, np.degrees(np.arccos(np.clip(h[:, 2], -1, 1))), np.degrees(u) % 360


def mean_elements_deg(pairs: list[tuple[str, str]], start_jd: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """SGP4's mean right ascension, inclination and argument of latitude (degrees) of each satellite,
    carried to ``start_jd`` with SGP4's secular rates (J2 drift of node, perigee and anomaly). Mean
    elements, not the osculating state: short-period terms would blur planes and slots by ~0.1 deg."""
    from sgp4.api import Satrec

    sats = [Satrec.twoline2rv(a, b) for a, b in pairs]
    dt_min = np.array([(start_jd - s.jdsatepoch - s.jdsatepochF) * 1440.0 for s in sats])
    node = np.array([s.nodeo for s in sats]) + np.array([s.nodedot for s in sats]) * dt_min
    arg = np.array([s.argpo + s.mo for s in sats]) + np.array([s.argpdot + s.mdot for s in sats]) * dt_min
    inc = np.array([s.inclo for s in sats])
    return np.degrees(node) % 360, np.degrees(inc), np.degrees(arg) % 360


def group_into_planes(
    raan_deg: FloatArray, inc_deg: FloatArray, u_deg: FloatArray, planes: int, sats_per_plane: int, where: str
) -> tuple[IntArray, tuple[int, ...]]:
    """Order of the satellites plane by plane and slot by slot, and the cross-plane slot shifts.
    Planes are split at the ``planes`` largest circular gaps in right ascension."""
    n = len(raan_deg)
    order = np.argsort(raan_deg, kind="stable")
    gaps = (np.diff(raan_deg[order], append=raan_deg[order][0] + 360.0)) % 360.0
    if planes == 1:
        cut_after = np.array([int(np.argmax(gaps))])
    else:
        cut_after = np.sort(np.argpartition(-gaps, planes - 1)[:planes])
    starts = (cut_after + 1) % n
    rolled = np.roll(order, -int(starts[0]))
    bounds = np.append(np.sort((starts - starts[0]) % n), n)
    groups = [rolled[bounds[i] : bounds[i + 1]] for i in range(planes)]
    sizes = sorted({len(g) for g in groups})
    intra = max(float(np.ptp(np.unwrap(np.radians(raan_deg[g])))) for g in groups if len(g))
    inter = float(np.sort(gaps)[-planes]) if planes > 1 else 360.0
    if sizes != [sats_per_plane] or np.degrees(intra) >= 0.5 * inter:
        found = "/".join(str(s) for s in sizes)
        raise UserError(
            f"{where}: the satellites do not form {planes} orbital planes of {sats_per_plane} (grouped by "
            f"right ascension at t=0: planes of {found} satellites); give one complete shell and its "
            "network.leo_shell planes and sats_per_plane"
        )
    if np.ptp(inc_deg) > _MAX_INCLINATION_SPREAD_DEG:
        raise UserError(
            f"{where}: inclinations span {inc_deg.min():.1f}..{inc_deg.max():.1f} deg; one TLE file is one "
            "shell (give several shells as network.leo_shells)"
        )
    # keep the file's own numbering when it already lists planes in slot order (Hypatia's layout):
    # planes in order of their first satellite in the file, each ring started at that satellite
    # planes in order of right ascension (neighbours link), the cycle started at the file's first one
    groups.sort(key=lambda g: float(np.degrees(np.angle(np.exp(1j * np.radians(raan_deg[g])).mean()))) % 360)
    first = int(np.argmin([int(g.min()) for g in groups]))
    groups = groups[first:] + groups[:first]
    # canonical: slot 0 at the lowest u, a hair below 0 counting as 0 (SGP4 rounding of u = 0 exactly)
    u_key = (u_deg + _U_ZERO_DEG) % 360.0
    rings = [g[np.argsort(u_key[g], kind="stable")] for g in groups]
    # links are chosen on the canonical numbering (so near-ties break the same way whatever the file
    # order), then expressed in the file-respecting one: ordered slot j = canonical slot j + r
    canonical = [_best_shift(u_deg[rings[p]], u_deg[rings[(p + 1) % planes]]) for p in range(planes)]
    roll = [int(np.argmin(r)) for r in rings]
    ordered = [np.roll(r, -k) for r, k in zip(rings, roll, strict=True)]
    shifts = tuple(
        (canonical[p] + roll[p] - roll[(p + 1) % planes]) % sats_per_plane for p in range(planes)
    )
    return np.concatenate(ordered).astype(np.int64), shifts


def _best_shift(u_a_deg: FloatArray, u_b_deg: FloatArray) -> int:
    """Shift k so slot j of plane a links to slot j+k of plane b with the smallest mean gap in
    argument of latitude; near-ties go to the smallest |k|."""
    s = len(u_a_deg)
    slot_deg = 360.0 / s
    cost = np.empty(s)
    for k in range(s):
        d = (np.roll(u_b_deg, -k) - u_a_deg + 180.0) % 360.0 - 180.0
        cost[k] = np.abs(d).mean() / slot_deg
    best = cost.min()
    candidates = [k for k in range(s) if cost[k] <= best + _TIE_SLOTS]
    return min(candidates, key=lambda k: min(k, s - k))


def load_tle_file(
    path: str | Path, planes: int, sats_per_plane: int, *, epoch: datetime | None = None
) -> TleConstellation:
    """Read a 2-line or 3-line (named) TLE file in any order; every problem is a ``file:line:`` message.
    t=0 is ``epoch`` when given, else the latest element epoch (no element set used before its epoch)."""
    p = Path(path)
    pairs = _read_pairs(p)
    if len(pairs) != planes * sats_per_plane:
        raise UserError(
            f"{p}: {len(pairs)} satellites, but network.leo_shell says {planes} planes x "
            f"{sats_per_plane} = {planes * sats_per_plane}"
        )
    from sgp4.api import Satrec

    if epoch is not None:
        from computemoat.latency.shells import julian_date

        start = julian_date(epoch)
    else:
        start = max(s.jdsatepoch + s.jdsatepochF for s in (Satrec.twoline2rv(a, b) for a, b in pairs))
    raan, inc, u = mean_elements_deg(pairs, start)
    order, shifts = group_into_planes(raan, inc, u, planes, sats_per_plane, str(p))
    return TleConstellation(planes, sats_per_plane, tuple(pairs[i] for i in order), start, shifts)


def _read_pairs(p: Path) -> list[tuple[str, str]]:
    try:
        raw = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{p}: cannot read TLE file ({e.strerror}); check network.tle_file") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a UTF-8 text file; check network.tle_file") from None
    problems: list[str] = []
    pairs: list[tuple[str, str]] = []
    pending: tuple[int, str] | None = None
    for no, text in enumerate(raw, start=1):
        line = text.rstrip()
        if line.startswith("1 ") and len(line) >= 69:
            if pending is not None:
                problems.append(f"{p}:{pending[0]}: TLE line 1 without its line 2")
            pending = (no, line)
        elif line.startswith("2 ") and len(line) >= 69:
            if pending is None:
                problems.append(f"{p}:{no}: TLE line 2 without a line 1 before it")
                continue
            first_no, first = pending
            pending = None
            for n, ln in ((first_no, first), (no, line)):
                if not ln[68].isdigit() or int(ln[68]) != tle_checksum(ln):
                    problems.append(f"{p}:{n}: bad TLE checksum (column 69 should be {tle_checksum(ln)})")
            if first[2:7] != line[2:7]:
                problems.append(f"{p}:{no}: line 2 is for satellite {line[2:7].strip()}, line 1 for "
                                f"{first[2:7].strip()}")
            pairs.append((first, line))
        elif line.startswith(("1 ", "2 ")):
            problems.append(f"{p}:{no}: TLE line shorter than 69 columns")
        # any other line is a satellite name (3-line format), Hypatia's "planes sats" header, or blank
    if pending is not None:
        problems.append(f"{p}:{pending[0]}: TLE line 1 without its line 2")
    if problems:
        raise UserError(*problems)
    return pairs


def shell_tle_text(shell: WalkerShell, epoch: datetime, name: str = "SHELL", eccentricity: float = 1e-7) -> str:
    """A Walker shell written as a 3-line TLE file (zero drag, the elements of each slot at
    ``epoch``), satellites plane by plane: how Hypatia feeds SGP4 a synthetic constellation.
    The mean motion is the shell's (Kepler's law from the altitude unless given)."""
    day_of_year = (epoch - epoch.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    epoch_field = f"{epoch.year % 100:02d}{1 + day_of_year / SECONDS_PER_DAY:012.8f}"
    mean_motion = shell.mean_motion_rev_per_day or SECONDS_PER_DAY / shell.period_s
    phase = shell.plane_phase_slots()
    out: list[str] = []
    for k in range(shell.n_sats):
        plane, slot = divmod(k, shell.sats_per_plane)
        raan = (shell.raan_offset_deg + 360.0 * plane / shell.planes) % 360.0
        anomaly = (360.0 * (slot + phase[plane]) / shell.sats_per_plane) % 360.0
        num = k + 1
        line1 = f"1 {num:05d}U 00000A   {epoch_field}  .00000000  00000-0  00000-0 0    1"
        ecc = f"{eccentricity:.7f}"[2:]
        line2 = (f"2 {num:05d} {shell.inclination_deg:8.4f} {raan:8.4f} {ecc} {0.0:8.4f} {anomaly:8.4f} "
                 f"{mean_motion:11.8f}    0")
        out += [f"{name} {k}", line1 + str(tle_checksum(line1)), line2 + str(tle_checksum(line2))]
    return "\n".join(out) + "\n"
