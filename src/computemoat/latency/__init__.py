"""Latency model: users x sites round-trip times over terrestrial fiber and a LEO constellation.

Layer 1: imports only ``computemoat.model``. Pure functions over numpy arrays, no globals.
"""

from computemoat.latency.geo import fiber_rtt_ms, great_circle_km
from computemoat.latency.matrix import (
    PATH_FIBER,
    PATH_LEO,
    PATH_NONE,
    Endpoint,
    RttMatrix,
    leo_rtt_series_between,
    rtt_between,
    rtt_matrix,
)

__all__ = [
    "PATH_FIBER",
    "PATH_LEO",
    "PATH_NONE",
    "Endpoint",
    "RttMatrix",
    "fiber_rtt_ms",
    "great_circle_km",
    "leo_rtt_series_between",
    "rtt_between",
    "rtt_matrix",
]
