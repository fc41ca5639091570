"""Locust users of the load run (bench/load/run.py starts locust with this file): each one a
member of one organization (users spread evenly over the organizations of LOAD_PLAN), sending
80% reads and 20% writes on that organization's host, checking every answer against it
(bench/load/checks.py). At the end, every request's status and time and every check go to the
JSON file LOAD_REPORT, from which run.py computes the figures."""

import itertools
import json
import os
import random
import threading
from collections import Counter, defaultdict
from pathlib import Path

from locust import FastHttpUser, between, events, task

from bench.load.checks import TITLE_MARKER, verdict

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
WAIT_MIN = float(os.environ.get("LOAD_WAIT_MIN", "0.5"))
WAIT_MAX = float(os.environ.get("LOAD_WAIT_MAX", "1.5"))
STATUSES = ("NEW", "IN_PROGRESS", "DONE")
PRIORITIES = ("LOW", "MEDIUM", "HIGH")
# Words that occur in seeded titles (tenant_apps/tasks/seeding/rows.py), for ?search=.
SEARCH_TERMS = ("report", "email", "endpoint", "migration", "workflow", "page", "form")
KNOWN_TASKS = 200  # ids remembered per user, from its own organization's answers

_slots = itertools.count()
_lock = threading.Lock()
_times = defaultdict(list)  # request name -> response times in ms
_statuses = defaultdict(Counter)  # request name -> status -> count
_checked = Counter()  # users and titles checked, per organization
_foreign = []  # (organization, request name, what was foreign)


@events.request.add_listener
def _timed(request_type, name, response_time, **kwargs):
    with _lock:
        _times[name].append(response_time)


@events.quitting.add_listener
def _report(environment, **kwargs):
    report = {
        "times_ms": _times,
        "statuses": {name: dict(counts) for name, counts in _statuses.items()},
        "checked": dict(_checked),
        "foreign": _foreign[:50],
        "foreign_count": len(_foreign),
    }
    Path(os.environ["LOAD_REPORT"]).write_text(json.dumps(report))


class Member(FastHttpUser):
    """One member of one organization (an ADMIN or MANAGER: every write below is theirs)."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self):
        slot = next(_slots)
        organization = PLAN[slot % len(PLAN)]
        self.slug = organization["slug"]
        self.projects = organization["project_ids"]
        self.members = organization["member_ids"]
        token = organization["tokens"][(slot // len(PLAN)) % len(organization["tokens"])]
        self.headers = {
            "Host": organization["host"],
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        }
        self.random = random.Random(slot)
        self.known = []  # task ids seen in this organization's answers
        self.trashed = []  # task ids this user deleted, to restore
        self.created = itertools.count(1)
        self._list("/api/tasks/", "tasks: list")

    # --- reads (80) ---------------------------------------------------------------------

    @task(20)
    def list_tasks(self):
        ordering = self.random.choice(("", "-created_at", "due_date", "-priority"))
        self._list(f"/api/tasks/?ordering={ordering}", "tasks: list")

    @task(20)
    def filter_tasks(self):
        choice = self.random.randrange(6)
        if choice == 0:
            query = f"status={self.random.choice(STATUSES)}"
        elif choice == 1:
            query = f"priority={self.random.choice(PRIORITIES)}&status=NEW,IN_PROGRESS"
        elif choice == 2:
            query = f"project={self.random.choice(self.projects)}"
        elif choice == 3:
            query = f"search={self.random.choice(SEARCH_TERMS)}"
        elif choice == 4:
            query = "assignee=me"
        else:
            query = "overdue=true&ordering=due_date"
        self._list(f"/api/tasks/?{query}", "tasks: filtered list")

    @task(15)
    def task_detail(self):
        if self.known:
            self._send("GET", f"/api/tasks/{self._known_id()}/", "tasks: detail")

    @task(15)
    def dashboard(self):
        if self.random.random() < 0.5:
            self._send("GET", "/api/dashboard/", "dashboard")
        else:
            project = self.random.choice(self.projects)
            self._send("GET", f"/api/dashboard/?project={project}", "dashboard")

    @task(10)
    def activity(self):
        if self.known and self.random.random() < 0.5:
            self._send("GET", f"/api/tasks/{self._known_id()}/activity/", "activity: task")
        else:
            self._send("GET", "/api/activity/", "activity: organization")

    # --- writes (20) --------------------------------------------------------------------

    @task(5)
    def create_task(self):
        title = f"{TITLE_MARKER.format(slug=self.slug)} load task {next(self.created)}"
        body = {
            "project": self.random.choice(self.projects),
            "title": title,
            "priority": self.random.choice(PRIORITIES),
            "assignee_ids": [self.random.choice(self.members)],
        }
        answer = self._send("POST", "/api/tasks/", "tasks: create", body)
        if isinstance(answer, dict) and "id" in answer:
            self._remember(answer["id"])

    @task(4)
    def update_task(self):
        if self.known:
            body = {
                "priority": self.random.choice(PRIORITIES),
                "description": f"{TITLE_MARKER.format(slug=self.slug)} edited under load",
            }
            self._send("PATCH", f"/api/tasks/{self._known_id()}/", "tasks: update", body)

    @task(4)
    def change_status(self):
        if self.known:
            body = {"status": self.random.choice(STATUSES)}
            self._send("PATCH", f"/api/tasks/{self._known_id()}/", "tasks: status", body)

    @task(3)
    def assign(self):
        if self.known:
            body = {"assignee_ids": self.random.sample(self.members, 2)}
            self._send("PATCH", f"/api/tasks/{self._known_id()}/", "tasks: assign", body)

    @task(2)
    def delete_task(self):
        if self.known:
            task_id = self._known_id()
            self._send("DELETE", f"/api/tasks/{task_id}/", "tasks: delete")
            self.known.remove(task_id)
            self.trashed.append(task_id)

    @task(2)
    def restore_task(self):
        if not self.trashed:
            self.delete_task()  # nothing of this user's in the trash yet
        if self.trashed:
            task_id = self.trashed.pop(0)
            self._send("POST", f"/api/tasks/{task_id}/restore/", "tasks: restore")
            self._remember(task_id)

    # --- plumbing -----------------------------------------------------------------------

    def _known_id(self) -> int:
        return self.random.choice(self.known)

    def _remember(self, task_id: int) -> None:
        if task_id not in self.known:
            self.known.append(task_id)
            del self.known[:-KNOWN_TASKS]

    def _list(self, path: str, name: str) -> None:
        answer = self._send("GET", path, name)
        if isinstance(answer, dict):
            for row in answer.get("results", []):
                self._remember(row["id"])

    def _send(self, method: str, path: str, name: str, body: dict | None = None):
        """The request on this user's host; its status and the check of its body recorded.
        Returns the decoded body (None when there is none)."""
        with self.client.request(
            method, path, name=name, headers=self.headers, json=body, catch_response=True
        ) as response:
            status = response.status_code or 0  # 0: no HTTP answer (connection error)
            decoded = None
            if response.content:
                try:
                    decoded = response.json()
                except ValueError:
                    decoded = None
            found = verdict(decoded, self.slug)
            with _lock:
                _statuses[name][str(status)] += 1
                _checked[self.slug] += found.checked
                _foreign.extend((self.slug, name, item) for item in found.foreign)
            if found.foreign:
                response.failure(f"another organization's data: {found.foreign[:3]}")
            elif status == 0 or status >= 500 or status == 429:
                response.failure(f"HTTP {status}")
            else:
                # A task another user of the organization deleted meanwhile answers 404.
                response.success()
        return decoded
