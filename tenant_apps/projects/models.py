"""Project: a named group of tasks, unique by name within its organization."""

from django.conf import settings
from django.db import models

# The longest description a project or a task may have (serializers enforce it; the OpenAPI
# schema shows it as maxLength).
DESCRIPTION_MAX_LENGTH = 20_000


class Project(models.Model):
    """A project in the current organization's schema (one schema = one organization)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # The schema is the organization, so unique here means unique per organization.
            models.UniqueConstraint(
                fields=["name"],
                name="projects_project_name_unique",
                violation_error_message="A project with this name already exists.",
            ),
        ]

    def __str__(self):
        return self.name
