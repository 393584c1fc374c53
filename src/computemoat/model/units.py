"""Unit conventions shared by every floor (one definition each)."""

from __future__ import annotations

HOURS_PER_MONTH = 730.0
"""Hours in the average month: 8,760 h in a 365-day year / 12 (the convention of cloud price sheets,
e.g. AWS's "730 hours per month" in its pricing calculator)."""
