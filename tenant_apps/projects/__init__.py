"""Projects: the containers of tasks inside one organization's schema."""
