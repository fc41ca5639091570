"""Who may do what on an organization's host: the role matrix as data.

One rule per request of the tenant URLconf (saas/urls_tenants.py): a route name, a method, the
object it targets and what each role gets. The README's "Roles" table is `readme_table()`
(the test comparing them prints it on a mismatch), and tests/security/test_role_matrix.py sends
every rule's request as every role against the real views and checks the answer, and that
every route and method of the URLconf has a rule: the permission classes, this table and the
README cannot drift apart.

A non-member's token gets 403 everywhere and no token 401 (the sweeps in tests/security/).
"""

from dataclasses import dataclass

from shared_apps.organizations.models import Role

ALLOWED = 200  # any 2xx: the request did what it asked
FORBIDDEN = 403  # refused by role
HIDDEN = 404  # the object does not exist for this role (others' exports, trashed tasks)

ROLES = (Role.ADMIN, Role.MANAGER, Role.MEMBER)

# What a rule's request acts on. "own": the caller's own (their membership, a task assigned
# to them, an export they requested); "other": someone else's; "trashed": in the trash.
TARGETS = ("none", "own", "other", "trashed")


@dataclass(frozen=True)
class Rule:
    """One request and each role's outcome: ALLOWED, FORBIDDEN or HIDDEN."""

    route: str  # URL name in saas.urls_tenants
    method: str
    admin: int
    manager: int
    member: int
    target: str = "none"
    query: str = ""  # e.g. "deleted=true"
    body: str = ""  # a named body when the body decides (tests/security/test_role_matrix.py)

    def outcome(self, role: str) -> int:
        return {Role.ADMIN: self.admin, Role.MANAGER: self.manager, Role.MEMBER: self.member}[role]

    @property
    def label(self) -> str:
        parts = [self.method, self.route]
        if self.query:
            parts.append(f"?{self.query}")
        if self.target != "none":
            parts.append(self.target)
        if self.body:
            parts.append(self.body)
        return " ".join(parts)


@dataclass(frozen=True)
class Capability:
    """One README row: what it is called, its rules, and the wording of a cell where a role
    is allowed only some of them."""

    label: str
    rules: tuple[Rule, ...]
    partly: dict[str, str]


def _all(route, method, **kwargs) -> Rule:
    return Rule(route, method, ALLOWED, ALLOWED, ALLOWED, **kwargs)


def _managers(route, method, **kwargs) -> Rule:
    return Rule(route, method, ALLOWED, ALLOWED, FORBIDDEN, **kwargs)


def _admins(route, method, **kwargs) -> Rule:
    return Rule(route, method, ALLOWED, FORBIDDEN, FORBIDDEN, **kwargs)


CAPABILITIES = (
    Capability(
        "read members, projects, tasks, the dashboard",
        (
            _all("member-list", "GET"),
            _all("member-detail", "GET", target="other"),
            _all("project-list", "GET"),
            _all("project-detail", "GET"),
            _all("task-list", "GET"),
            _all("task-detail", "GET", target="other"),
            _all("dashboard", "GET"),
        ),
        {},
    ),
    Capability(
        "invite members (list / resend / revoke invitations), re-role / remove members",
        (
            _admins("member-list", "POST"),
            _admins("invitation-list", "GET"),
            _admins("invitation-resend", "POST"),
            _admins("invitation-detail", "DELETE"),
            _admins("member-detail", "PATCH", target="other"),
            _admins("member-detail", "DELETE", target="other"),
            _all("member-detail", "DELETE", target="own"),  # leaving
        ),
        {Role.MANAGER: "leave only", Role.MEMBER: "leave only"},
    ),
    Capability(
        "create / edit projects",
        (
            _managers("project-list", "POST"),
            _managers("project-detail", "PUT"),
            _managers("project-detail", "PATCH"),
        ),
        {},
    ),
    Capability("delete projects", (_admins("project-detail", "DELETE"),), {}),
    Capability(
        "create / edit / delete tasks",
        (
            _managers("task-list", "POST"),
            _managers("task-detail", "PUT", target="own"),
            _managers("task-detail", "PATCH", target="own", body="title"),
            _all("task-detail", "PATCH", target="own", body="status"),
            _managers("task-detail", "PATCH", target="other", body="status"),
            _managers("task-detail", "DELETE", target="own"),
        ),
        {Role.MEMBER: "change `status` of tasks assigned to them"},
    ),
    Capability(
        "read the activity log (`/api/activity/`, `/api/tasks/{id}/activity/`)",
        (
            _all("activity-list", "GET"),
            _all("task-activity", "GET", target="other"),
            Rule("task-activity", "GET", ALLOWED, ALLOWED, HIDDEN, target="trashed"),
        ),
        {Role.MEMBER: "✓ (the second: live tasks only)"},
    ),
    Capability(
        "list the trash (`?deleted=true`), restore tasks",
        (
            _managers("project-list", "GET", query="deleted=true"),
            _managers("task-list", "GET", query="deleted=true"),
            _managers("task-restore", "POST", target="trashed"),
        ),
        {},
    ),
    Capability("restore projects", (_admins("project-restore", "POST", target="trashed"),), {}),
    Capability(
        "request CSV exports of tasks; follow and download their own",
        (
            _all("export-list", "POST"),
            _all("export-list", "GET"),
            _all("export-detail", "GET", target="own"),
            _all("export-download", "GET", target="own"),
        ),
        {},
    ),
    Capability(
        "see and download every export of the organization",
        (
            Rule("export-detail", "GET", ALLOWED, HIDDEN, HIDDEN, target="other"),
            Rule("export-download", "GET", ALLOWED, HIDDEN, HIDDEN, target="other"),
        ),
        {},
    ),
)

RULES = tuple(rule for capability in CAPABILITIES for rule in capability.rules)

# Routes of the tenant URLconf that no role decides: the API's own description, the same for
# everyone (tests/security/test_anonymous_sweep.py allows them without a token too).
NOT_ROLE_BASED = frozenset({"schema", "docs"})


def readme_cell(capability: Capability, role: str) -> str:
    """✓ when the role may do all of it, — when none, else the capability's wording."""
    outcomes = {rule.outcome(role) == ALLOWED for rule in capability.rules}
    if outcomes == {True}:
        return "✓"
    if outcomes == {False}:
        return "—"
    return capability.partly[role]


def readme_table() -> str:
    """The README's "Roles" table, as Markdown."""
    lines = [
        "| | " + " | ".join(ROLES) + " |",
        "|---" * (len(ROLES) + 1) + "|",
    ]
    for capability in CAPABILITIES:
        cells = [readme_cell(capability, role) for role in ROLES]
        lines.append(f"| {capability.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
