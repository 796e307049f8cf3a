"""Registered users with a logged-in session each, and other one-off work in
a plain process of the application (``manage.py shell``), for the tests and
the benchmark alike."""

import json
import subprocess
import sys

from harness.processes import REPOSITORY

SIGN_IN = """
import json
from django.contrib import auth
from django.contrib.sessions.backends.db import SessionStore
sessions = {{}}
for name in {names!r}:
    user, _ = auth.get_user_model().objects.get_or_create(username=name)
    session = SessionStore()
    session[auth.SESSION_KEY] = str(user.pk)
    session[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    sessions[name] = session.session_key
print(json.dumps(sessions))
"""


def manage_shell(code, env, timeout=1800):
    """What ``code`` prints, run by ``manage.py shell`` with ``env``."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return result.stdout.strip()


def signed_in(names, env):
    """Make these registered users, in one process: {name: session key}."""
    output = manage_shell(SIGN_IN.format(names=list(names)), env)
    return json.loads(output.splitlines()[-1])
