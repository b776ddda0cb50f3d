"""REST API v1 endpoints of the audit log: list and streamed export (``audit: read``)."""
