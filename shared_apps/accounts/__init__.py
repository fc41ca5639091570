"""Users (email login) and authentication tokens, in the public schema."""
