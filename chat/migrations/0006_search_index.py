"""The full-text index of live messages (chat/search.py), on PostgreSQL only:
SQLite's search matches substrings and has no such index. Its expression is
the one Django's SearchVector("text", config="english") writes, so that the
search's query uses it."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS chat_search ON chat_event"
    " USING gin (to_tsvector('english'::regconfig, COALESCE(text, '')))"
    " WHERE kind = 0 AND NOT deleted"
)
DROP = "DROP INDEX IF EXISTS chat_search"


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_threads")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
