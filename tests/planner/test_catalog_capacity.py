"""Issue 11 item 8: a zero or negative ``catalog.capacity_gpus`` is bad input, one line with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from computemoat.catalog import load_scenario
from computemoat.model import UserError

TEXT = """name: cap
catalog:
  capacity_gpus: {{H100: {value}}}
"""


@pytest.mark.parametrize("value", [0, -8])
def test_non_positive_catalog_capacity_is_rejected_with_its_line(tmp_path: Path, value: int) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(TEXT.format(value=value))
    with pytest.raises(UserError) as info:
        load_scenario(path)
    lines = list(info.value.lines)
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:3:") and "capacity_gpus" in lines[0] and "greater than 0" in lines[0]
