"""The status read model: what every status reader shows (``snapshot``)."""
