"""Export: a CSV of the organization's tasks, written by a background job."""

from django.db import models

from tenant_apps.people import user_reference


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Export(models.Model):
    """One requested export. Its file is EXPORT_ROOT/<schema>/<id>.csv (tenant_apps.exports.
    files), written by the job `export_run` and deleted with the row after
    EXPORT_RETENTION_DAYS."""

    Status = ExportStatus

    created_by = user_reference()
    # The task list's filters as validated when the export was requested, `assignee=me`
    # already resolved to the requester's id (the job has no request to resolve it from).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_written = models.BigIntegerField(default=0)
    # Counted when the job starts (tasks may come and go while it runs); the rows written
    # once it is done.
    rows_total = models.BigIntegerField(null=True, blank=True)
    # What the requester is told when it failed (details are in the worker's log).
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values),
                name="exports_export_status_valid",
            ),
        ]
        indexes = [
            # A member's own exports, newest first (the list's keyset pages).
            models.Index(fields=["created_by", "-created_at", "-id"], name="exports_by_creator"),
            # ADMINs' list of all, and the cleanup's "created before".
            models.Index(fields=["-created_at", "-id"], name="exports_created_id"),
        ]

    def __str__(self):
        return f"Export {self.pk} ({self.status})"
