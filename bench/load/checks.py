"""Whether an answer came from the organization whose host was asked: every user in it (a
task's creator and assignees, an activity entry's actor, a member) has an address whose local
part starts with that organization's slug, and every task the run created carries the slug in
its title. Plain Python: the locustfile imports it without Django."""

from dataclasses import dataclass, field

# Titles of the tasks the run creates: "[<slug>] ...", so a task of another organization
# shows in any list, detail or activity answer.
TITLE_MARKER = "[{slug}]"


@dataclass
class Verdict:
    """What one answer showed: how many users and titles were checked, and those that belong
    to another organization."""

    checked: int = 0
    foreign: list[str] = field(default_factory=list)


def owner_prefix(slug: str) -> str:
    return f"{slug}-"


def verdict(body, slug: str) -> Verdict:
    """Check every user address and every run-made title anywhere in the decoded JSON `body`
    against the organization `slug`."""
    result = Verdict()
    prefix = owner_prefix(slug)
    marker = TITLE_MARKER.format(slug=slug)
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            email = value.get("email")
            if isinstance(email, str):
                result.checked += 1
                if not email.partition("@")[0].startswith(prefix):
                    result.foreign.append(email)
            for key in ("title", "target_label"):  # a task, an activity entry about one
                title = value.get(key)
                if isinstance(title, str) and title.startswith("["):
                    result.checked += 1
                    if not title.startswith(marker):
                        result.foreign.append(title)
            stack.extend(value.values())
    return result
