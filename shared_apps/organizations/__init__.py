"""Organizations (tenants), their domains and memberships, in the public schema."""
