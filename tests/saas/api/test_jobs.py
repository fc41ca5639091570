"""saas/api/jobs.py: a job is queued when the transaction commits, in the schema of the code
that queued it (even when the commit comes after that tenant_context ended), and a broker
that refuses it undoes the request's rows in that same schema and answers 503."""

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context
from kombu.exceptions import OperationalError

from saas.api.exceptions import JobQueueUnavailableError
from saas.api.jobs import enqueue_on_commit

pytestmark = pytest.mark.django_db


class FakeJob:
    """Records what would have been published."""

    name = "tests.fake_job"

    def __init__(self, fail: bool = False):
        self.sent: list[dict] = []
        self.fail = fail

    def apply_async(self, **options):
        if self.fail:
            raise OperationalError("broker down")
        self.sent.append(options)


def test_the_job_carries_the_schema_it_was_queued_from_whenever_the_commit_comes(
    acme, django_capture_on_commit_callbacks
):
    job = FakeJob()

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            with tenant_context(acme):
                enqueue_on_commit(job, 7)
            assert connection.schema_name == "public"  # the commit comes from here

    assert job.sent == [{"args": (7,), "kwargs": {}, "headers": {"_schema_name": "org_acme"}}]


def test_a_refused_job_undoes_in_its_own_schema_and_answers_503(
    acme, django_capture_on_commit_callbacks
):
    undone_in = []

    with pytest.raises(JobQueueUnavailableError):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                with tenant_context(acme):
                    enqueue_on_commit(
                        FakeJob(fail=True), undo=lambda: undone_in.append(connection.schema_name)
                    )

    assert undone_in == ["org_acme"]
