"""Load and soak run: locust (headless) against gunicorn on loopback, over organizations
seeded with seed_tasks; checks every answer against its host and samples the server meanwhile
(`make load`; tests/bench/test_load.py runs the CI-sized version)."""
