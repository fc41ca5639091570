"""Query-string filters for the task list; malformed values become 400s naming the parameter."""

import re

import django_filters
from django import forms
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.lookups import DataContains
from django.core.exceptions import ValidationError
from django.db.models import Exists, Func, Lookup, OuterRef, Q, TextField, Value
from django.db.models.functions import Concat, Left, Right, StrIndex, Upper
from django.db.models.lookups import (
    Contains,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

# The strict filters live in the API plumbing, since other apps' lists use them too.
from saas.api.filters import (
    BooleanStrictFilter,
    ChoiceInFilter,
    IdFilter,
    IsoDateFilter,
    UserIdOrMeFilter,
    user_id_or_me,
)

from .models import (
    DUE_DATE_SORT_ASC,
    DUE_DATE_SORT_DESC,
    TITLE_JUNCTIONS,
    TITLE_SEARCH_KEY,
    TITLE_SEARCH_SPACE,
    Priority,
    Status,
    Task,
    title_search_key,
)

# `?search=` is answered from the trigram index `tasks_title_key_trgm`: pg_trgm's GIN index on
# the search key (models.TITLE_SEARCH_KEY: UPPER(title), spaces turned into "0"), queried with
# the term turned alike. pg_trgm takes a LIKE pattern's trigrams from its words (runs of
# letters and digits), padding a word with two spaces where a non-word character precedes it
# and with one where one follows; the term's ends touch the pattern's `%`, which pads nothing.
# A term without a trigram ("ab", "a!!") makes the index return every row, i.e. the whole
# table is read (~0.7 s at a million tasks): it is refused. (Joining words only lengthens
# them, so a term with a trigram has one in the key too.)
SEARCH_MIN_LENGTH = 3
# Titles hold at most 255 characters; a longer term could never match.
SEARCH_MAX_LENGTH = 200
SEARCH_TOO_SHORT = (
    f'Enter at least {SEARCH_MIN_LENGTH} characters to search, e.g. "api" rather than "ap".'
)
SEARCH_NO_WORD = (
    f"Search needs {SEARCH_MIN_LENGTH} letters or digits in a row, or a shorter word after a "
    'space or punctuation mark (e.g. "fix ui"): this term would match nearly every task.'
)
# Letters and digits (str.isalnum), as pg_trgm's word characters in a UTF-8 database.
_WORD = re.compile(r"[^\W_]+")


def has_trigram(term: str) -> bool:
    """Whether pg_trgm finds at least one trigram in the LIKE pattern `%<term>%`."""
    for word in _WORD.finditer(term):
        left = 2 if word.start() > 0 else 0
        right = 1 if word.end() < len(term) else 0
        if len(word.group()) + left + right >= 3:
            return True
    return False


# Characters of a word that public.word_junctions keeps at a junction, longest first.
JUNCTION_LENGTHS = (5, 3)


def phrase_junction(term: str) -> tuple[int, int, int] | None:
    """The junction of `term`'s words that the junction index can look up with the most
    characters, as (index of its first word, characters of that word's end, characters of
    the next word's start), or None when there is none.

    The term is split like the titles, on single spaces. A word inside the term is a whole
    word of the title (spaces on both sides), so its end or start is known at any length (a
    shorter word is taken whole on both sides). The first word may be the end of a longer
    one and the last the start of one: their characters count only up to their own length,
    and under 3 that junction is unusable ("up legacy", "fix ui": none is left)."""
    words = term.split(" ")

    def known(word: str, whole: bool) -> int:
        return next((n for n in JUNCTION_LENGTHS if whole or len(word) >= n), 0)

    best = None
    for index in range(len(words) - 1):
        end = known(words[index], whole=index > 0)
        start = known(words[index + 1], whole=index + 1 < len(words) - 1)
        if end and start and (best is None or end + start > best[1] + best[2]):
            best = (index, end, start)
    return best


def junction_element(term: str, junction: tuple[int, int, int]) -> Func:
    """`junction` of `term` as public.word_junctions writes it ("55:LOGIN SALES"), built in
    SQL so that the term is upper-cased by the same UPPER as the titles."""
    index, end, start = junction
    words = term.split(" ")
    return Concat(
        Value(f"{end}{start}:"),
        Right(Upper(Value(words[index])), end),
        Value(" "),
        Left(Upper(Value(words[index + 1])), start),
        output_field=TextField(),
    )


class NotEqual(Lookup):
    """`a <> b`. The planner takes 99.5% of rows to pass it without statistics (against a
    third for `a > b`), so it leaves the estimate to the condition an index answers."""

    lookup_name = "ne"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} <> {rhs}", (*lhs_params, *rhs_params)


class SearchField(forms.CharField):
    """A search term the trigram index can serve (surrounding spaces stripped)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value in self.empty_values:
            return
        if len(value) < SEARCH_MIN_LENGTH:
            raise ValidationError(SEARCH_TOO_SHORT, code="min_length")
        if not has_trigram(value):
            raise ValidationError(SEARCH_NO_WORD, code="no_word")


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


class TaskFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project_id", min_value=1)
    status = ChoiceInFilter(
        field_name="status", choices=Status.choices, lookup_expr="in", noun="status"
    )
    priority = ChoiceInFilter(
        field_name="priority", choices=Priority.choices, lookup_expr="in", noun="priority"
    )
    assignee = UserIdOrMeFilter(method="filter_assignee")
    created_by = IdFilter(field_name="created_by_id", min_value=1)
    due_before = IsoDateFilter(field_name="due_date", lookup_expr="lte")
    due_after = IsoDateFilter(field_name="due_date", lookup_expr="gte")
    overdue = BooleanStrictFilter(method="filter_overdue")
    search = SearchFilter(
        method="filter_search",
        help_text=f"Tasks whose title contains this text, case-insensitive: at least "
        f"{SEARCH_MIN_LENGTH} characters (a word of 1 or 2 letters only after a space or "
        f"punctuation mark), at most {SEARCH_MAX_LENGTH}.",
    )
    # The trash instead of the live tasks (ADMIN and MANAGER). The view picks the rows it
    # starts from (see TaskViewSet.get_queryset); declared here so the value is validated
    # and documented like every other parameter, and the other filters still apply.
    deleted = BooleanStrictFilter(
        method="filter_nothing",
        help_text="`true`: the trash (deleted tasks) instead of the live ones; ADMIN and MANAGER.",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_queryset(self, queryset):
        return self._due_bounds_on_sort_key(super().filter_queryset(queryset))

    def _due_bounds_on_sort_key(self, queryset):
        """The due-date bounds (`due_after`, `due_before`, `overdue=true`) restated on the sort
        key when the list is ordered by due date.

        That ordering reads the index on its key (COALESCE of the due date, see
        models.DUE_DATE_SORT_ASC); a bound on `due_date` alone is checked row by row, so
        `?due_after=<today>&ordering=due_date` would first read every task due earlier (0.6 s
        at a million tasks). On the key itself, the bound is where the index scan starts and
        stops. The rows are the same: each restated bound follows from the one on `due_date`,
        which excludes undated tasks. Only the ordering in use gets it, since the planner
        would count a bound stated twice as two independent conditions."""
        ordering = self.request.query_params.get("ordering", "") if self.request else ""
        if ordering.removeprefix("-") != "due_date":
            return queryset
        key = DUE_DATE_SORT_DESC if ordering.startswith("-") else DUE_DATE_SORT_ASC
        data = self.form.cleaned_data
        if data.get("due_after") is not None:
            queryset = queryset.filter(GreaterThanOrEqual(key, data["due_after"]))
        if data.get("due_before") is not None:
            queryset = queryset.filter(LessThanOrEqual(key, data["due_before"]))
        if data.get("overdue") is True:
            queryset = queryset.filter(LessThan(key, timezone.localdate()))
        return queryset

    def filter_nothing(self, queryset, name, value):
        return queryset

    def filter_assignee(self, queryset, name, value):
        user_id = user_id_or_me(self.request, value)
        # EXISTS rather than a join: no duplicate rows, no DISTINCT over the whole list.
        through = Task.assignees.through.objects.filter(task_id=OuterRef("pk"), user_id=user_id)
        return queryset.filter(Exists(through))

    def filter_search(self, queryset, name, value):
        """Titles containing `value`, case-insensitive. A phrase with a usable junction is
        looked up by it (the junction index) and checked word for word; otherwise the term on
        the search key, which the trigram index serves, and the term itself where the key
        could also match something else."""
        junction = phrase_junction(value)
        exact = StrIndex(Upper("title"), Upper(Value(value)))
        if junction is not None:
            # One junction, not all of the term's: their frequencies multiplied would make a
            # common phrase look rare, and the planner would sort all its matches instead of
            # walking the listing's index for a page.
            element = Func(
                junction_element(value, junction),
                template="ARRAY[%(expressions)s]",
                output_field=ArrayField(TextField()),
            )
            return queryset.filter(DataContains(TITLE_JUNCTIONS, element), NotEqual(exact, 0))
        queryset = queryset.filter(Contains(TITLE_SEARCH_KEY, title_search_key(Value(value))))
        if " " in value or TITLE_SEARCH_SPACE in value:
            # A "0" in the title where the term has a space matches the key too. Checked by
            # position, not LIKE: the planner guesses a third of the rows pass a comparison
            # it has no statistics for, against 0.5% for a LIKE, which would make it expect
            # a phrase to be rare and sort every match rather than walk the listing's index.
            queryset = queryset.filter(GreaterThan(exact, 0))
        return queryset

    def filter_overdue(self, queryset, name, value):
        # "Today" in the server's TIME_ZONE (settings.TIME_ZONE, UTC by default).
        overdue = Q(due_date__lt=timezone.localdate()) & ~Q(status=Status.DONE)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
