"""Apps whose tables live in each organization's own PostgreSQL schema."""
