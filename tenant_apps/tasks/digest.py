"""The daily overdue digest: every member with open tasks assigned to them that are overdue or
due today gets one email per organization, listing them with links on its host."""

import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Count, Q
from django.template.loader import render_to_string

from shared_apps.accounts.links import site_url
from shared_apps.accounts.models import User
from shared_apps.organizations.models import Organization

from .models import Status, Task

logger = logging.getLogger(__name__)

# Listed in full up to this many; beyond, the email gives the count and a link to them all.
MAX_TASKS_LISTED = 50
TEMPLATE = "tasks/emails/overdue_digest"


class DigestNotSentError(Exception):
    """Some of an organization's digests could not be sent (each failure is logged)."""


@dataclass(frozen=True)
class DigestTask:
    title: str
    project: str
    status: str
    due_date: date
    overdue: bool
    url: str


def _open_due(today: date):
    """Live open tasks due today or earlier."""
    return Task.objects.filter(due_date__lte=today).exclude(status=Status.DONE)


def digest_recipients(*, organization: Organization, today: date) -> dict[int, tuple[int, int]]:
    """{user id: (open tasks overdue or due today, of which overdue)} for the active members
    of `organization` (call in its schema) who have any. One grouped query."""
    assignments = Task.assignees.through.objects.filter(
        task__in=_open_due(today),
        user__is_active=True,
        user__memberships__organization=organization,
    )
    counts = (
        assignments.order_by()
        .values_list("user_id")
        .annotate(due=Count("*"), overdue=Count("task_id", filter=Q(task__due_date__lt=today)))
    )
    return {user_id: (due, overdue) for user_id, due, overdue in counts}


def _message(
    *, organization, user: User, today: date, count: int, overdue: int
) -> EmailMultiAlternatives:
    host = site_url(organization.domain)
    tasks = (
        _open_due(today)
        .filter(assignees=user.pk)
        .select_related("project")
        .order_by("due_date", "id")[:MAX_TASKS_LISTED]
    )
    open_statuses = ",".join(value for value in Status.values if value != Status.DONE)
    query = {"assignee": "me", "due_before": today.isoformat(), "status": open_statuses}
    context = {
        "organization": organization,
        "user": user,
        "today": today,
        "count": count,
        "overdue": overdue,
        "due_today": count - overdue,
        "tasks": [
            DigestTask(
                title=task.title,
                project=task.project.name,
                status=task.get_status_display(),
                due_date=task.due_date,
                overdue=task.due_date < today,
                url=f"{host}api/tasks/{task.pk}/",
            )
            for task in tasks
        ],
        "more": max(count - MAX_TASKS_LISTED, 0),
        "list_url": f"{host}api/tasks/?{urlencode(query, safe=',')}&ordering=due_date",
    }
    subject = " ".join(render_to_string(f"{TEMPLATE}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject, render_to_string(f"{TEMPLATE}.txt", context), to=[user.email]
    )
    message.attach_alternative(render_to_string(f"{TEMPLATE}.html", context), "text/html")
    return message


def overdue_digest_send(*, organization: Organization, today: date) -> int:
    """Send `organization`'s digests (call in its schema); returns how many were sent.

    One recipient's failure (a refused address) is logged and the others still get theirs;
    DigestNotSentError at the end says some were not sent.
    """
    recipients = digest_recipients(organization=organization, today=today)
    users = User.objects.in_bulk(list(recipients))
    sent = failed = 0
    with get_connection() as connection:
        for user_id, (count, overdue) in sorted(recipients.items()):
            message = _message(
                organization=organization,
                user=users[user_id],
                today=today,
                count=count,
                overdue=overdue,
            )
            message.connection = connection
            try:
                message.send()
            except Exception:
                logger.exception(
                    "Could not send the overdue digest of schema %s to user %s",
                    organization.schema_name,
                    user_id,
                )
                failed += 1
            else:
                sent += 1
    logger.info("Overdue digest of schema %s: %d email(s) sent", organization.schema_name, sent)
    if failed:
        raise DigestNotSentError(f"{failed} of {failed + sent} digest(s) not sent")
    return sent
