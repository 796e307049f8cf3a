"""The full-text search column and index of messages (chat/search.py), on
PostgreSQL only: SQLite's search matches substrings and has neither.

``search_vector`` is a stored generated column, so PostgreSQL keeps it with
every insert and every edit of ``text`` (a deleted message's text is empty),
a search compares stored vectors rather than parsing texts, and ANALYZE keeps
statistics of its words, from which the planner tells a rare word (the GIN
index first) from a common one (newest rows first). The column is not in the
model: search.py names it in its one query."""

from django.db import migrations

CREATE = [
    "ALTER TABLE chat_event ADD COLUMN IF NOT EXISTS search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(text, '')))"
    " STORED",
    "CREATE INDEX IF NOT EXISTS chat_search ON chat_event USING gin (search_vector)"
    " WHERE kind = 0 AND NOT deleted",
]
DROP = [
    "DROP INDEX IF EXISTS chat_search",
    "ALTER TABLE chat_event DROP COLUMN IF EXISTS search_vector",
]


def on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_threads")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
