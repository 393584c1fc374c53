"""Makes the gateway test helpers importable (``import gateway_helpers``) and exposes its fixtures."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gateway_helpers import mock_server

__all__ = ["mock_server"]
