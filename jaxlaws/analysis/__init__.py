"""What users compute from a fit: compute-optimal allocation (more to come)."""

from jaxlaws.analysis import allocation

__all__ = ["allocation"]
