"""The organization's activity log, and the change counter that versions derived caches."""

from django.db import models
from django.db.models.functions import Now

from tenant_apps.people import user_reference


class Verb(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    MEMBER_INVITED = "member_invited"
    MEMBER_ADDED = "member_added"
    MEMBER_ROLE_CHANGED = "member_role_changed"
    MEMBER_REMOVED = "member_removed"


class TargetType(models.TextChoices):
    TASK = "task"
    PROJECT = "project"
    MEMBER = "member"


class Activity(models.Model):
    """One change, written in the same transaction as the change itself; never edited.

    Targets are named by type, id and label rather than foreign keys, so the history of a
    task or project outlives the row (purged from the trash) and members live in public.
    """

    Verb = Verb
    TargetType = TargetType

    # Null for system jobs (purges, scheduled work). No index of its own: `activity_actor`
    # below starts with it (one index fewer to maintain on every write).
    actor = user_reference(null=True, db_index=False)
    verb = models.CharField(max_length=32, choices=Verb.choices)
    target_type = models.CharField(max_length=16, choices=TargetType.choices)
    target_id = models.BigIntegerField()
    target_label = models.CharField(max_length=255)
    # The project a task or project entry belongs to, for `?project=` (kept after a purge).
    project_id = models.BigIntegerField(null=True)
    # {field: [old, new]}
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(verb__in=Verb.values), name="activity_verb_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(target_type__in=TargetType.values),
                name="activity_target_type_valid",
            ),
        ]
        indexes = [
            # Newest first, paged by (created_at, id): the whole log and each filter.
            models.Index(fields=["-created_at", "-id"], name="activity_created_id"),
            models.Index(
                fields=["target_type", "target_id", "-created_at", "-id"],
                name="activity_target_created",
            ),
            models.Index(fields=["project_id", "-created_at", "-id"], name="activity_project"),
            models.Index(fields=["actor", "-created_at", "-id"], name="activity_actor"),
            models.Index(fields=["verb", "-created_at", "-id"], name="activity_verb"),
        ]

    def __str__(self):
        return f"{self.verb} {self.target_type} {self.target_label}"


class ChangeCounter(models.Model):
    """One row per organization, bumped in the transaction of every recorded change.

    Caches of derived figures (the dashboard) are keyed by its value: a write commits its
    rows and the new version together, so a figure computed from older rows is stored under
    an older version and never served after the write. Kept in PostgreSQL, not Redis, so a
    cache outage cannot lose a bump.
    """

    id = models.SmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="activity_counter_single_row")
        ]
