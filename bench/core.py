"""The benchmark's shared parts: timing by medians, one results table, bench/results/latest.json."""

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    """Wall times of several runs of one thing, in milliseconds."""

    samples: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def max(self) -> float:
        return max(self.samples)


def timed(
    fn: Callable[[], object],
    runs: int = 7,
    *,
    warmup: int = 1,
    prepare: Callable[[], object] | None = None,
) -> Timing:
    """Run `fn` `warmup` times untimed, then `runs` times timed; `prepare` runs before each, untimed.

    `fn` must build its query afresh each time (a QuerySet evaluated once caches its rows)."""
    samples = []
    for run in range(warmup + runs):
        if prepare is not None:
            prepare()
        started = time.perf_counter()
        fn()
        if run >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return Timing(tuple(samples))


def interleaved(
    first: Callable[[], object],
    second: Callable[[], object],
    runs: int,
    *,
    prepare: tuple[Callable[[], object], Callable[[], object]] | None = None,
) -> tuple[Timing, Timing]:
    """Both in turn, run after run (alternating which goes first), so that a change of load
    on the machine weighs on both alike; `prepare` pair runs untimed before each."""
    samples: tuple[list[float], list[float]] = ([], [])
    fns = (first, second)
    for run in range(1 + runs):  # the first round warms up
        order = (0, 1) if run % 2 else (1, 0)
        for index in order:
            if prepare is not None:
                prepare[index]()
            started = time.perf_counter()
            fns[index]()
            if run:
                samples[index].append((time.perf_counter() - started) * 1000)
    return Timing(tuple(samples[0])), Timing(tuple(samples[1]))


@dataclass
class Row:
    """One line of the table: a scenario, this project's figure, a reference and the target.

    `passed` is None when the row has no target (information only). `deterministic` rows (a
    sequential scan, a query count above its pin) fail `make bench-quick`; timing rows fail only
    the full `make bench`, since timings on a shared machine are noisy."""

    section: str
    scenario: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: str = ""
    passed: bool | None = None
    deterministic: bool = False
    details: dict = field(default_factory=dict)
    module: str = ""  # the bench module that measured it (set by bench.run)

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        return self.value / self.reference


@dataclass
class Report:
    """Collects rows from every bench module, prints one table and writes the results file."""

    quick: bool = False
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Per module: when it ran, how long it took, its notes (a file may mix runs: --only).
    modules: dict[str, dict] = field(default_factory=dict)

    def module_done(self, name: str, seconds: float) -> None:
        """Attribute every row and note to module `name`, which took `seconds` (a module's
        own process reports that module alone)."""
        for row in self.rows:
            row.module = name
        self.modules[name] = {
            "generated_at": _now(),
            "seconds": round(seconds, 1),
            "notes": list(self.notes),
        }

    def absorb(self, path: Path) -> None:
        """Add the rows, notes and module record of a results file (a module's own process)."""
        payload = json.loads(path.read_text())
        self.rows.extend(_row(row) for row in payload["rows"])
        self.notes.extend(payload["notes"])
        self.modules.update(payload.get("modules", {}))

    def keep_others(self, rerun: list[str]) -> None:
        """Start from the results file's rows of every module not in `rerun` (`--only`)."""
        path = self.path()
        if not path.exists():
            return
        payload = json.loads(path.read_text())
        kept = {
            name: info for name, info in payload.get("modules", {}).items() if name not in rerun
        }
        self.rows.extend(_row(row) for row in payload["rows"] if row.get("module") in kept)
        for info in kept.values():
            self.notes.extend(info["notes"])
        self.modules.update(kept)

    def path(self) -> Path:
        return RESULTS_DIR / ("quick.json" if self.quick else "latest.json")

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        mark = {True: "pass", False: "FAIL", None: ""}[row.passed]
        print(f"  {row.section} | {row.scenario}: {row.value:.2f} {row.unit} {mark}", flush=True)
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)

    def failures(self) -> list[Row]:
        """Rows that fail this run: deterministic ones always, timing ones only in a full run."""
        return [
            row
            for row in self.rows
            if row.passed is False and (row.deterministic or not self.quick)
        ]

    def table(self) -> str:
        headers = ("section", "scenario", "this project", "reference", "ratio", "target", "pass")
        lines = []
        for row in self.rows:
            reference = (
                f"{row.reference:.2f} {row.unit} ({row.reference_name})"
                if row.reference is not None
                else row.reference_name
            )
            ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
            passed = {True: "yes", False: "NO", None: ""}[row.passed]
            if row.passed is False and not row.deterministic and self.quick:
                passed = "no (timing, not enforced)"
            lines.append(
                (
                    row.section,
                    row.scenario,
                    f"{row.value:.2f} {row.unit}",
                    reference,
                    ratio,
                    row.target,
                    passed,
                )
            )
        widths = [
            max(len(str(cell)) for cell in column) for column in zip(headers, *lines, strict=True)
        ]

        def fmt(cells):
            return (
                "| "
                + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
                + " |"
            )

        out = [fmt(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [fmt(line) for line in lines]
        return "\n".join(out)

    def write(self, path: Path | None = None) -> Path:
        path = path or self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        order = list(dict.fromkeys(row.module for row in self.rows))
        payload = {
            "generated_at": _now(),
            "quick": self.quick,
            "machine": machine(),
            "modules": {name: self.modules[name] for name in order if name in self.modules},
            "rows": [asdict(row) | {"ratio": row.ratio} for row in self.rows],
            "notes": self.notes,
        }
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        return path


def _row(saved: dict) -> Row:
    """A row read back from a results file (which also holds its computed `ratio`)."""
    return Row(**{k: v for k, v in saved.items() if k in Row.__dataclass_fields__})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def machine() -> dict:
    """What the figures were measured on: cores, Python, PostgreSQL."""
    info = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    except Exception as exc:  # the table is still worth writing without it
        info["postgresql"] = f"unknown ({exc.__class__.__name__})"
    return info
