"""One handler per AWS resource type."""
