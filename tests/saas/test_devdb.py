"""saas/devdb.py: the Makefile's database URL, and `make db-stop` saying what it did."""

import pytest

from saas import devdb


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An embedded server's data folder that nothing runs in."""
    folder = tmp_path / ".data" / "postgres"
    monkeypatch.setattr(devdb, "DATA_DIR", folder)
    return folder


def test_db_stop_says_there_is_nothing_to_stop_without_a_data_folder(data_dir):
    assert devdb.stop() == "No embedded PostgreSQL under .data/postgres: nothing to stop."


def test_db_stop_says_the_server_is_not_running(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "PG_VERSION").write_text("16\n")

    assert devdb.stop() == (
        "The embedded PostgreSQL under .data/postgres is not running: nothing to stop."
    )


def test_the_test_url_is_the_given_one_and_creates_no_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/not_created")
    monkeypatch.setattr(devdb, "_ensure_database", pytest.fail)

    assert devdb.database_url(create=False) == "postgres://postgres@127.0.0.1:1/not_created"


def test_db_stop_prints_its_sentence(data_dir, capsys):
    assert devdb.main(["devdb", "stop"]) == 0

    assert "nothing to stop" in capsys.readouterr().out
