"""REST API v1 endpoints of docks: providers, docks, the universal resource tables."""
