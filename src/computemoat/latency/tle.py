"""Real constellations from a TLE file, propagated with SGP4 (the ``sgp4`` package).

The +Grid links need to know which satellite is in which plane, which a TLE file does not say;
we take the layout Hypatia writes: satellites listed plane by plane, ``sats_per_plane`` each, so the
shell settings (planes x sats_per_plane) describe the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from computemoat.latency.constellation import FloatArray, _inertial_to_earth_fixed
from computemoat.model.errors import UserError

SECONDS_PER_DAY = 86_400.0


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 columns (digits count, '-' counts 1)."""
    return sum(int(ch) if ch.isdigit() else ch == "-" for ch in line[:68]) % 10


@dataclass(frozen=True)
class TleConstellation:
    """Satellites from TLEs; t=0 is the latest epoch in the file, so no element set is used
    before its epoch."""

    planes: int
    sats_per_plane: int
    lines: tuple[tuple[str, str], ...]

    @property
    def n_sats(self) -> int:
        return len(self.lines)

    @property
    def start_jd(self) -> float:
        from sgp4.api import Satrec

        sats = [Satrec.twoline2rv(a, b) for a, b in self.lines]
        return max(s.jdsatepoch + s.jdsatepochF for s in sats)

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        from sgp4.api import Satrec, SatrecArray
        from sgp4.propagation import gstime

        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        sats = SatrecArray([Satrec.twoline2rv(a, b) for a, b in self.lines])
        start = self.start_jd
        jd_whole = np.full_like(t, np.floor(start))
        jd_frac = (start - np.floor(start)) + t / SECONDS_PER_DAY
        err, r_teme, _ = sats.sgp4(jd_whole, jd_frac)  # (N, T), (N, T, 3)
        if np.any(err):
            k, i = np.argwhere(err)[0]
            raise UserError(
                f"TLE satellite #{k + 1}: SGP4 error code {err[k, i]} at t={t[i]:.0f} s "
                "(decayed or invalid elements; use a fresher TLE file)"
            )
        # TEME -> Earth-fixed: rotate by Greenwich mean sidereal time (polar motion neglected)
        gmst0 = gstime(start)
        return _inertial_to_earth_fixed(np.swapaxes(r_teme, 0, 1), t, gmst0)


def load_tle_file(path: str | Path, planes: int, sats_per_plane: int) -> TleConstellation:
    """Read a 2-line or 3-line (named) TLE file; every problem is a ``file:line:`` message."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{p}: cannot read TLE file ({e.strerror}); check network.tle_file") from None
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
        # any other line is a satellite name (3-line format) or blank
    if pending is not None:
        problems.append(f"{p}:{pending[0]}: TLE line 1 without its line 2")
    if not problems and len(pairs) != planes * sats_per_plane:
        problems.append(
            f"{p}: {len(pairs)} satellites, but network.leo_shell says {planes} planes x "
            f"{sats_per_plane} = {planes * sats_per_plane} (list satellites plane by plane)"
        )
    if problems:
        raise UserError(*problems)
    return TleConstellation(planes, sats_per_plane, tuple(pairs))
