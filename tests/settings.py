"""The service's own settings, with a secret key supplied for the test run."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from project.settings import *  # noqa: E402, F403
