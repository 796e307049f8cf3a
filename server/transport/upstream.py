"""The check that the upstream names our patches and extensions rely on exist.

Each module that reaches into daphne, autobahn, Twisted, Channels or
channels-redis lists what it uses in ``RELIES_ON``: pairs of an owner (a class,
a module, a function, or a list of option names) and the names it must have.
A name is an attribute, an entry of the list, or an attribute that the owner's
``__init__`` (or, for a function, the function) sets on ``self``. A name
written ``name(a, b)`` is a callable whose parameters, after ``self``, begin
``a, b``. A name written ``source sha256 <hex>`` is the digest of the owner's
source: for a method we copied, so that any change to it is reviewed.

``check`` imports each module and checks its list, so that a release that
moved or renamed anything stops the process at start-up with one line naming
it, instead of a traceback or a server that misbehaves.
"""

import hashlib
import importlib
import inspect
import re

SIGNATURE = re.compile(r"(\w+)\((.*)\)")
SOURCE_DIGEST = "source sha256 "


class UnsupportedUpstream(SystemExit):
    """A SystemExit whose message is the one line the operator sees."""


def check(module_names):
    """Import each module and check its RELIES_ON; the modules, in order."""
    modules = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise UnsupportedUpstream(
                f"{name}: {error}; this release is not supported, see requirements.txt"
            ) from None
        check_module(module)
        modules.append(module)
    return modules


def check_module(module):
    for owner, names in module.RELIES_ON:
        missing = [name for name in names if not has(owner, name)]
        if missing:
            raise UnsupportedUpstream(
                f"{module.__name__}: {describe(owner)} has no {', '.join(missing)}; "
                "this release is not supported, see requirements.txt"
            )


def has(owner, name):
    if name.startswith(SOURCE_DIGEST):
        source = inspect.getsource(owner).encode()
        return hashlib.sha256(source).hexdigest() == name[len(SOURCE_DIGEST) :]
    signature = SIGNATURE.fullmatch(name)
    if signature:
        return takes(owner, signature[1], signature[2])
    if isinstance(owner, (list, tuple)):
        return name in owner
    if hasattr(owner, name):
        return True
    setter = owner if inspect.isfunction(owner) else getattr(owner, "__init__", None)
    try:
        source = inspect.getsource(setter)
    except (TypeError, OSError):
        return False
    return re.search(rf"self\.{re.escape(name)}\b", source) is not None


def takes(owner, name, parameters):
    function = getattr(owner, name, None)
    if function is None:
        return False
    expected = [part.strip() for part in parameters.split(",") if part.strip()]
    actual = [p for p in inspect.signature(function).parameters if p != "self"]
    return actual[: len(expected)] == expected


def describe(owner):
    if isinstance(owner, (list, tuple)):
        return "the option list"
    return getattr(owner, "__qualname__", None) or getattr(
        owner, "__name__", type(owner).__name__
    )
