"""Task list at scale: keyset cursor pages vs OFFSET pages, deep into one large organization.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.task_list [--tasks 1000000]
Creates (once) an organization `bench-scale` holding N tasks, then times, in one run:
  * the list SQL at several depths, keyset (what the API does) vs LIMIT/OFFSET, and
  * full API requests (auth, membership check, filters, serialization) at the same depths.
"""

import argparse
import statistics
import time

import django

django.setup()

from django.core import signing  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.data import EMAIL, ensure_data  # noqa: E402
from saas.api.pagination import CURSOR_SALT, SORT_ALIAS, keyset_order, keyset_page  # noqa: E402
from shared_apps.accounts.models import User  # noqa: E402
from tenant_apps.tasks.apis import TaskViewSet  # noqa: E402
from tenant_apps.tasks.models import Task  # noqa: E402

PAGE = 50
ORDERINGS = ["-created_at", "-priority", "due_date"]
REPEAT = 5


def timed(fn) -> float:
    """Median wall time of `fn` in milliseconds over REPEAT runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def sort_expression(ordering: str):
    spec = TaskViewSet.orderings[ordering.removeprefix("-")]
    descending = ordering.startswith("-")
    return (spec.desc if descending and spec.desc is not None else spec.asc), descending


def row_at(depth: int, ordering: str):
    """The (sort key, id) of the row at `depth` in this ordering, i.e. a real cursor position."""
    key, descending = sort_expression(ordering)
    return keyset_order(Task.objects.all(), key, descending).values_list(SORT_ALIAS, "id")[depth]


def cursor_for(depth: int, ordering: str) -> str:
    key, pk = row_at(depth - 1, ordering)
    key = key.isoformat() if hasattr(key, "isoformat") else key
    payload = {"k": key, "i": pk, "b": False, "o": ordering}
    # Signed like the paginator's own cursors (an unsigned one is a 400).
    return signing.dumps(payload, salt=CURSOR_SALT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    args = parser.parse_args()
    organization = ensure_data(args.tasks)
    user = User.objects.get(email=EMAIL)
    _, token = AuthToken.objects.create(user=user)
    client = APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {token}")
    depths = [0, 10_000, 100_000, min(args.tasks - PAGE, 900_000)]

    rows = []
    with tenant_context(organization):
        total = Task.objects.count()
        for ordering in ORDERINGS:
            key, descending = sort_expression(ordering)
            base = keyset_order(Task.objects.all(), key, descending)
            for depth in depths:
                offset_page = base.values_list("id", flat=True)[depth : depth + PAGE]
                # .all(): a fresh query each run (a QuerySet caches its rows once evaluated).
                offset_ms = timed(lambda q=offset_page: list(q.all()))
                if depth:
                    cursor = cursor_for(depth, ordering)
                    url = f"/api/tasks/?ordering={ordering}&page_size={PAGE}&cursor={cursor}"
                else:
                    url = f"/api/tasks/?ordering={ordering}&page_size={PAGE}"
                api_ms = timed(lambda u=url: client.get(u))
                response = client.get(url)
                assert response.status_code == 200, response.content
                assert len(response.json()["results"]) == PAGE
                keyset_sql_ms = timed_keyset_sql(base, key, descending, depth, ordering)
                rows.append((ordering, depth, keyset_sql_ms, offset_ms, api_ms))
    AuthToken.objects.filter(user=user).delete()

    print(
        f"\nTask list, one organization with {total:,} tasks, page size {PAGE}, median of {REPEAT}"
    )
    header = f"{'ordering':<12} {'depth':>9} {'keyset SQL ms':>14} {'OFFSET SQL ms':>14} {'OFFSET/keyset':>14} {'API request ms':>15}"
    print(header)
    print("-" * len(header))
    for ordering, depth, keyset_ms, offset_ms, api_ms in rows:
        ratio = offset_ms / keyset_ms if keyset_ms else float("inf")
        print(
            f"{ordering:<12} {depth:>9,} {keyset_ms:>14.2f} {offset_ms:>14.2f} {ratio:>13.1f}x {api_ms:>15.1f}"
        )


def timed_keyset_sql(base, key, descending, depth, ordering) -> float:
    """The page query the paginator runs, at the cursor for `depth`."""
    if depth == 0:
        return timed(lambda: list(base.values_list("id", flat=True)[:PAGE]))
    after_key, after_id = row_at(depth - 1, ordering)
    query = keyset_page(Task.objects.all(), key, descending, after_key, after_id)
    return timed(lambda: list(query.values_list("id", flat=True)[:PAGE]))


if __name__ == "__main__":
    main()
