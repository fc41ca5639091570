"""Fault injection: each test starts the real service it breaks (Redis, PostgreSQL, PgBouncer,
the broker, a worker) on a free loopback port, breaks it, and checks what clients see."""
