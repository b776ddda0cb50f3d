from tests.api.conftest import client_for, owner_client  # noqa: F401  (API clients)
from tests.frontend.conftest import sandbox  # noqa: F401  (a fresh sandbox cloud)
