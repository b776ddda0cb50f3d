"""REST API v1 endpoints of provisioning: provision, operations, stacks."""
