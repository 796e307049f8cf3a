"""Typed readers for the environment variables that configure the service.

Every variable the service reads is documented, with its default, in README.md.
"""

import json
import os

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def text(name, default=""):
    return os.environ.get(name, default)


def flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1 or 0")


def number(name, default, minimum=0.0):
    """A decimal number (of seconds, say)."""
    return measured(name, default, minimum, float, "a number")


def integer(name, default, minimum=0):
    return measured(name, default, minimum, int, "an integer")


def measured(name, default, minimum, convert, kind):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        result = convert(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not {kind}") from None
    if not result >= minimum:
        raise ImproperlyConfigured(f"{name}={result} is below its minimum {minimum}")
    return result


def words(name, default):
    """A comma-separated list, blanks dropped."""
    value = os.environ.get(name, default)
    return [word.strip() for word in value.split(",") if word.strip()]


def json_value(name, default):
    """A JSON document (the options of a backend, say)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return json.loads(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} is not JSON: {error}") from None
