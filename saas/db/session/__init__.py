"""The database backend of DATABASE_POOL_MODE=session (ENGINE "saas.db.session")."""
