"""The one exception type jaxlaws raises for bad input."""

from __future__ import annotations


class JaxlawsError(ValueError):
    """Bad input to jaxlaws: the message is one line that names the problem."""


class JaxlawsWarning(UserWarning):
    """A result that should not be believed as it stands (it says why)."""
