"""Local stand-ins for the outside world (provider APIs) used by the tests."""
