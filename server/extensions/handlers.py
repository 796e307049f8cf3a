"""Client message types and their handlers, declared once and checked against
each other when the consumer class is created.

A JSON protocol names its message types in one place (chat's is
``chat/protocol.py``'s ``CLIENT_MESSAGES``); a consumer marks one method per
type with ``@handles("type")`` and names the declaration in
``message_types``. When the class is created, a type without a handler or a
handler for an undeclared type stops the import with one line, as Phoenix's
compiler warns of a ``handle_out`` with no ``intercept``. A subclass that adds
a type declares it and its handler the same way.
"""


class UndeclaredMessageType(SystemExit):
    """A mismatch of declared message types and handlers: one line, at import."""


def handles(*message_types):
    """Mark a consumer method as the handler of client messages of these types."""

    def mark(method):
        method.handles = message_types
        return method

    return mark


class DeclaredHandlers:
    """A consumer mixin: ``handlers`` maps each declared message type to the
    name of its method, for ``handler_for``."""

    message_types = None  # the declared types: a mapping or a collection of names
    handlers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = f"{cls.__module__}.{cls.__name__}"
        handlers = {}
        # Base classes first: a subclass's @handles method for a type takes it
        # over; overriding a handler under its own name needs no decorator.
        for klass in reversed(cls.__mro__):
            own = {}
            for attribute, value in vars(klass).items():
                for message_type in getattr(value, "handles", ()):
                    if message_type in own:
                        raise UndeclaredMessageType(
                            f"{name}: {own[message_type]} and {attribute} "
                            f"both handle {message_type!r}"
                        )
                    own[message_type] = attribute
            handlers.update(own)
        cls.handlers = handlers
        if cls.message_types is None:
            return
        declared = set(cls.message_types)
        for message_type in sorted(declared - set(handlers)):
            raise UndeclaredMessageType(
                f"{name}: message type {message_type!r} is declared "
                "but has no @handles method"
            )
        for message_type in sorted(set(handlers) - declared):
            raise UndeclaredMessageType(
                f"{name}.{handlers[message_type]} handles "
                f"{message_type!r}, which is not a declared message type"
            )

    def handler_for(self, message_type):
        """The bound method for a declared message type."""
        return getattr(self, self.handlers[message_type])
