"""chat_prune_uploads deletes uploads no message named in time, with their
bytes, and leaves sent ones and recent drafts alone."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from chat import files
from chat.models import Room, Upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_unsent_uploads_past_their_hours_are_deleted_with_their_files(
    settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CHAT_UPLOAD_UNSENT_HOURS = 24
    user = get_user_model().objects.create(username="pruner")
    room = Room.objects.create(name="prune-room")

    def uploaded(name, age_hours, seq=None):
        upload = files.accept(SimpleUploadedFile(name, b"notes\n"), room, user)
        Upload.objects.filter(pk=upload.pk).update(
            created=timezone.now() - timedelta(hours=age_hours), seq=seq
        )
        return upload

    stale, draft, sent = (
        uploaded("a.txt", 25),
        uploaded("b.txt", 1),
        uploaded("c.txt", 48, 7),
    )
    out = io.StringIO()
    call_command("chat_prune_uploads", stdout=out)
    assert out.getvalue().strip() == "1 unsent uploads deleted"
    assert set(Upload.objects.values_list("pk", flat=True)) == {draft.pk, sent.pk}
    assert not (tmp_path / stale.file.name).exists()
    assert (tmp_path / draft.file.name).exists() and (
        tmp_path / sent.file.name
    ).exists()
