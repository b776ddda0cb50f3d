"""The ``stackdock`` commands, one module per area; each has ``register(app)``."""
