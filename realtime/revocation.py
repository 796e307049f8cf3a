"""Signing out reaches the sockets: a session that logs out, and a user whose
password changes or who is deactivated, lose their WebSocket connections on
every worker, closed with 3000 "signed out" so that clients do not reconnect
under the old identity.

- Logging out (Django's ``user_logged_out``) closes that session's
  connections: the user stays signed in on their other devices.
- A new password or ``is_active`` turned off closes all of the user's
  connections, once the change is committed. (Django's password change view
  keeps the changing session signed in; its page reconnects after a reload.)

A failure to reach the channel layer is logged and does not fail the logout
or the save.
"""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from redis.exceptions import RedisError

from server.extensions.layers import ChannelLayerUnavailable

from . import publish

logger = logging.getLogger(__name__)

LOGGED_OUT = "logged out"
PASSWORD_CHANGED = "password changed"
DEACTIVATED = "account deactivated"
# What a save must touch for it to be able to revoke.
CREDENTIAL_FIELDS = {"password", "is_active"}


def connect():
    model = get_user_model()
    user_logged_out.connect(logged_out, dispatch_uid="realtime.logged_out")
    pre_save.connect(note_revocation, sender=model, dispatch_uid="realtime.note")
    post_save.connect(revoke_after_save, sender=model, dispatch_uid="realtime.revoke")


def logged_out(sender, request=None, user=None, **kwargs):
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        revoke(publish.disconnect_session, key, LOGGED_OUT)


def note_revocation(sender, instance, update_fields=None, **kwargs):
    instance.realtime_revocation = None
    if instance.pk is None:
        return
    if update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields):
        return  # last_login on every login, say: nothing to compare
    before = (
        sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    )
    if before is None:
        return
    if before["is_active"] and not instance.is_active:
        instance.realtime_revocation = DEACTIVATED
    elif before["password"] != instance.password:
        instance.realtime_revocation = PASSWORD_CHANGED


def revoke_after_save(sender, instance, **kwargs):
    reason = getattr(instance, "realtime_revocation", None)
    if reason is None:
        return
    instance.realtime_revocation = None
    user_id = instance.pk
    transaction.on_commit(lambda: revoke(publish.disconnect_user, user_id, reason))


def revoke(disconnect, whom, reason):
    try:
        disconnect(whom, reason=reason)
    except (ChannelLayerUnavailable, RedisError, OSError):
        logger.exception("could not close the connections of a %s", reason)
