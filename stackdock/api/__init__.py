"""REST API v1 (``/api/v1/``): shared plumbing and the tenancy endpoints.

Each app keeps its own endpoints in ``<app>/api/``; ``stackdock.api.urls``
puts them together. Views only parse input and call a service or selector.
"""
