"""The one exception of the targets package."""


class TargetError(ValueError):
    """A target description is missing, malformed or inconsistent (message names file and key)."""
