"""The daily overdue digest: one email per member per organization, for open tasks assigned
to them that are overdue or due today, text and HTML, with links on the organization's host."""

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Role
from tenant_apps.tasks import digest
from tenant_apps.tasks.digest import overdue_digest_send
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import make_member, make_project, make_task

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)


def send(organization) -> int:
    with tenant_context(organization):
        return overdue_digest_send(organization=organization, today=TODAY)


def emails_to(address: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [address]]


@pytest.fixture
def people(acme):
    """Acme's ADMIN and four members: two with tasks due, one with only tasks not due, one
    whose due tasks are done or in the trash."""
    admin = make_member(acme, Role.ADMIN)
    return {
        "admin": admin,
        "late": make_member(acme, Role.MEMBER, full_name="Lee Late"),
        "today": make_member(acme, Role.MANAGER),
        "not_due": make_member(acme, Role.MEMBER),
        "all_done": make_member(acme, Role.MEMBER),
    }


@pytest.fixture
def tasks(acme, people):
    """Tasks of every kind, by title."""
    admin = people["admin"]
    project = make_project(acme, created_by=admin, name="Rockets & <Skates>")

    def task(title, assignees, **fields):
        return make_task(
            acme,
            project=project,
            created_by=admin,
            title=title,
            assignee_ids=[people[name].id for name in assignees],
            **fields,
        )

    made = {
        "overdue": task("Fix <the> fuse", ["late"], due_date=TODAY - timedelta(days=3)),
        "shared": task("Both of us", ["late", "today"], due_date=TODAY, status="IN_PROGRESS"),
        "due_today": task("Launch today", ["today"], due_date=TODAY, priority="HIGH"),
        "tomorrow": task("Tomorrow", ["not_due", "late"], due_date=TODAY + timedelta(days=1)),
        "no_date": task("Someday", ["not_due"]),
        "done": task("Finished", ["all_done"], due_date=TODAY - timedelta(days=1), status="DONE"),
        "trashed": task("Binned", ["all_done"], due_date=TODAY - timedelta(days=1)),
    }
    with tenant_context(acme):
        task_delete(task=made["trashed"], actor=admin)
    return made


def test_each_member_with_open_tasks_overdue_or_due_today_gets_one_email(acme, people, tasks):
    assert send(acme) == 2

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [people["late"].email, people["today"].email]
    )
    for nobody in ("admin", "not_due", "all_done"):
        assert emails_to(people[nobody].email) == []


def test_the_digest_lists_the_tasks_with_links_on_the_organizations_host(acme, people, tasks):
    send(acme)

    (message,) = emails_to(people["late"].email)
    assert message.subject == "Acme Corp: 2 tasks overdue or due today"
    text = message.body
    assert "Hello Lee Late," in text
    assert "1 overdue, 1 due today" in text
    assert "Fix <the> fuse" in text and "Both of us" in text
    assert "Tomorrow" not in text and "Someday" not in text
    links = set(re.findall(r"http://\S+", text))
    assert f"http://acme.localhost:8000/api/tasks/{tasks['overdue'].id}/" in links
    assert f"http://acme.localhost:8000/api/tasks/{tasks['shared'].id}/" in links
    assert (
        "http://acme.localhost:8000/api/tasks/?assignee=me&due_before=2026-03-10"
        "&status=NEW,IN_PROGRESS&ordering=due_date" in links
    )
    # Overdue first, with its date; then today's.
    assert text.index("Fix <the> fuse") < text.index("Both of us")
    assert "overdue, was due 2026-03-07" in text

    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="http://acme.localhost:8000/api/tasks/{tasks["overdue"].id}/">' in html
    assert "Fix &lt;the&gt; fuse" in html and "Fix <the> fuse" not in html  # escaped
    assert "Rockets &amp; &lt;Skates&gt;" in html


def test_one_email_per_organization_for_a_member_of_two(acme, globex, people, tasks):
    late = people["late"]
    Membership.objects.create(user=late, organization=globex, role=Role.MEMBER)
    globex_admin = make_member(globex, Role.ADMIN)
    project = make_project(globex, created_by=globex_admin)
    make_task(
        globex,
        project=project,
        created_by=globex_admin,
        title="Globex chore",
        due_date=TODAY,
        assignee_ids=[late.id],
    )

    send(acme)
    send(globex)

    subjects = sorted(message.subject for message in emails_to(late.email))
    assert subjects == [
        "Acme Corp: 2 tasks overdue or due today",
        "Globex Corporation: 1 task due today",
    ]
    (globex_email,) = [m for m in emails_to(late.email) if "Globex" in m.subject]
    assert "http://globex.localhost:8000/api/tasks/" in globex_email.body
    assert "Fix <the> fuse" not in globex_email.body


def test_former_and_deactivated_members_get_no_digest(acme, people, tasks):
    Membership.objects.filter(user=people["late"]).delete()  # assignments stay in this test
    people["today"].is_active = False
    people["today"].save(update_fields=["is_active"])

    assert send(acme) == 0
    assert mail.outbox == []


def test_a_long_list_is_cut_with_the_count_of_the_rest(acme, people, monkeypatch):
    monkeypatch.setattr(digest, "MAX_TASKS_LISTED", 2)
    project = make_project(acme, created_by=people["admin"])
    for day in range(5):
        make_task(
            acme,
            project=project,
            created_by=people["admin"],
            title=f"Late {day}",
            due_date=TODAY - timedelta(days=day),
            assignee_ids=[people["late"].id],
        )

    send(acme)

    (message,) = emails_to(people["late"].email)
    assert message.subject == "Acme Corp: 5 tasks overdue or due today"
    assert "Late 4" in message.body and "Late 3" in message.body and "Late 0" not in message.body
    assert "... and 3 more." in message.body


def test_one_refused_address_does_not_stop_the_others(acme, people, tasks, monkeypatch, caplog):
    send_one = mail.EmailMessage.send

    def refusing(message, *args, **kwargs):
        if message.to == [people["late"].email]:
            raise OSError("550 mailbox unavailable")
        return send_one(message, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", refusing)
    with tenant_context(acme), pytest.raises(digest.DigestNotSentError, match="1 of 2"):
        overdue_digest_send(organization=acme, today=TODAY)

    assert [message.to for message in mail.outbox] == [[people["today"].email]]
    assert "overdue digest of schema org_acme" in caplog.text
    with tenant_context(acme):
        assert Task.objects.filter(pk=tasks["overdue"].pk).exists()
