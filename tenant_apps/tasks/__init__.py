"""Tasks: the work items of an organization, grouped in projects."""
