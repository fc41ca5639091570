"""Project: a named group of tasks, unique by name among the organization's live projects."""

from django.db import models

from tenant_apps.people import user_reference

# The longest description a project or a task may have (serializers enforce it; the OpenAPI
# schema shows it as maxLength).
DESCRIPTION_MAX_LENGTH = 20_000


class LiveManager(models.Manager):
    """Rows not in the trash: the default manager of projects and tasks, so every list,
    filter, detail, count, related manager (`project.tasks`) and serializer choice hides
    deleted rows without having to remember to. The trash and the services that restore or
    purge use `all_objects`. (Forward foreign keys, `task.project`, use Django's base
    manager and still reach a trashed project: a trashed task shows which project it had.)

    A manager filters the rows a query starts from, not the rows it joins: count or filter
    tasks from `Task.objects` (`Task.objects.values("project").annotate(...)`), not through
    `Project.objects.annotate(Count("tasks"))` or `filter(tasks__...)`, which would see
    trashed tasks too.
    """

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Trashable(models.Model):
    """What a row needs to go to the trash: when and by whom, and the two managers (`objects`
    hides it, `all_objects` does not)."""

    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = user_reference(null=True)

    objects = LiveManager()  # first, so it is the default manager (and `project.tasks`)
    all_objects = models.Manager()

    class Meta:
        abstract = True


class Project(Trashable):
    """A project in the current organization's schema (one schema = one organization).

    Deleting one puts it in the trash (`deleted_at`, `deleted_by`) with its tasks; it can be
    restored until `purge_trash` removes it for good.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = user_reference()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # The schema is the organization, so unique here means unique per organization;
            # trashed projects do not count, so a name can be reused once its project is
            # deleted (restoring it while the name is taken is refused).
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(deleted_at__isnull=True),
                name="projects_project_live_name_unique",
                violation_error_message="A project with this name already exists.",
            ),
        ]
        indexes = [
            # The trash (small): its list and the purge's "deleted before" scan.
            models.Index(
                fields=["deleted_at"],
                condition=models.Q(deleted_at__isnull=False),
                name="projects_trash",
            ),
        ]

    def __str__(self):
        return self.name
