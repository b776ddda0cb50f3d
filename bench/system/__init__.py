"""The system benchmarks (issue 9): the API at scale, provisioning throughput through
Celery, status latency and worker memory, on PostgreSQL and Redis.

Each starts real processes (gunicorn, Celery workers, moto server) on loopback
against a fresh ``stackdock_bench`` database; see docs/PERFORMANCE.md.
"""
