"""EXPLAIN for the benchmark: a query's plan (JSON and text) and the whole-table scans in it."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

# Tables no list query may read whole: a sequential scan of either grows with the organization.
WATCHED_TABLES = ("tasks_task", "tasks_task_assignees")


@dataclass(frozen=True)
class Plan:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: the JSON tree and the text form."""

    tree: dict
    text: str

    def nodes(self) -> Iterator[dict]:
        """Every node of the plan, depth first (init plans and subplans included)."""
        stack = [self.tree["Plan"]]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.get("Plans", [])))

    def sequential_scans(self, tables=WATCHED_TABLES) -> list[str]:
        """ "Seq Scan on <table>" for each sequential scan of one of `tables` (parallel
        ones too: a Parallel Seq Scan is a Seq Scan node marked parallel-aware)."""
        return [
            f"{'Parallel ' if node.get('Parallel Aware') else ''}Seq Scan on "
            f"{node['Relation Name']}"
            for node in self.nodes()
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in tables
        ]

    def indexes(self) -> list[str]:
        """The indexes the plan reads, in plan order."""
        return [node["Index Name"] for node in self.nodes() if "Index Name" in node]


def explain(sql: str, params=None, *, analyze: bool = True, index_only: bool = False) -> Plan:
    """EXPLAIN `sql` (as the API sent it) on the current connection and schema.

    `index_only`: with sequential scans disabled, so a small table (where a sequential scan
    is rightly cheapest) still shows which index would serve the query; a Seq Scan then
    appears only when no index can (PostgreSQL falls back to it). Run inside a transaction
    of its own, rolled back: EXPLAIN ANALYZE executes the statement.
    """
    options = "ANALYZE, BUFFERS, " if analyze else ""
    with transaction.atomic(), connection.cursor() as cursor:
        if index_only:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN ({options}FORMAT JSON) {sql}", params)
        tree = cursor.fetchone()[0]
        # psycopg2 decodes a json column itself; other drivers may hand over the text.
        tree = (json.loads(tree) if isinstance(tree, str) else tree)[0]
        cursor.execute(f"EXPLAIN ({options}FORMAT TEXT) {sql}", params)
        text = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return Plan(tree=tree, text=text)
