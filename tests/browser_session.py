"""A browser's HTTP session against a real server, without a browser: cookies
kept, forms posted with the CSRF token as Django's pages carry it."""

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from tests import servers

CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

MAKE_USER_WITH_PASSWORD = """
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username={name!r})
user.set_password({password!r})
user.is_active = True
user.save()
"""


def make_user(database_url, name, password):
    manage(database_url, MAKE_USER_WITH_PASSWORD.format(name=name, password=password))


def manage(database_url, code, **settings):
    """Run ``code`` in ``manage.py shell``: a plain process of the application."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=servers.REPOSITORY,
        env=servers.service_environment(DATABASE_URL=database_url, **settings),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


class BrowserSession:
    def __init__(self, server):
        self.base = f"http://127.0.0.1:{server.port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def cookie(self, name):
        return next((c.value for c in self.cookies if c.name == name), None)

    def get(self, path):
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read()

    def post_form(self, path, fields, token_from=None):
        """POST a form with the CSRF token of the page at ``token_from``."""
        page = self.get(token_from or path)
        token = CSRF_FIELD.search(page)
        fields = {**fields, "csrfmiddlewaretoken": token.group(1).decode()}
        request = urllib.request.Request(
            self.base + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Referer": self.base + path},
        )
        with self.opener.open(request, timeout=10) as response:
            return response.status

    def log_in(self, username, password):
        self.post_form("/accounts/login/", {"username": username, "password": password})
        session = self.cookie("sessionid")
        assert session, "the login was refused"
        return session

    def log_out(self):
        """The chat page's Log out button: a POST with the page's CSRF token."""
        return self.post_form("/accounts/logout/", {}, token_from="/chat/")
