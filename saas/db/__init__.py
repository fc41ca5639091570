"""Database plumbing: the connection-pool mode, a backend safe behind a transaction pooler
(ENGINE "saas.db"), and how an unreachable PostgreSQL is recognised."""
