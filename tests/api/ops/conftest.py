"""The operations tests' own projection fixture (see tests/integration/ops/counting.py)."""

from tests.integration.ops.counting import counting_projection

__all__ = ["counting_projection"]
