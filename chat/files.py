"""Files and images in chat messages: what an upload is (its type read from
its bytes, never its name), an image's cleaning and thumbnail, and keeping
both with Django's storage API (STORAGES["default"]: local files unless
FILE_STORAGE names another backend, docs/configuration.md).

An image is decoded and encoded again by Pillow: what is stored is the
pixels, turned upright as its EXIF said, and none of its metadata (EXIF with
its GPS position, XMP, comments). Its thumbnail is a WebP of at most
CHAT_THUMBNAIL_SIZE pixels a side.
"""

import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from . import protocol
from .models import Upload
from .protocol import ProtocolError

# The first bytes of each type a file may be, as its format defines them.
SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]
IMAGES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# Bytes read to tell what a file is.
SNIFF_BYTES = 8192
# What an image keeps of what its file said besides its pixels: nothing
# about where, when or with what it was taken.
KEPT_INFO = {"icc_profile", "transparency", "duration", "loop", "background"}
UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class Refused(Exception):
    """An upload the service does not take: its error code and HTTP status."""

    code: str
    status: int
    detail: str


def content_type(head, whole):
    """What a file is, from its first bytes (and, for text, all of them)."""
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in head:
        try:
            whole().decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "text/plain"
    return "application/octet-stream"


def clean_name(name):
    """The name a file is shown and downloaded under: no folders, no
    control characters, at most 200 characters (its extension kept)."""
    name = unicodedata.normalize("NFC", UNSAFE_IN_NAMES.sub("", name.rsplit("/")[-1]))
    name = name.strip(" .") or "file"
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = stem[: 199 - len(extension)] + dot + extension if dot else name[:200]
    return name


def accept(uploaded, room, user):
    """Keep ``uploaded`` (an UploadedFile) for ``user`` in ``room``: the
    Upload, or Refused."""
    if uploaded.size > settings.CHAT_UPLOAD_MAX_BYTES:
        raise too_large()
    uploaded.seek(0)
    head = uploaded.read(SNIFF_BYTES)
    kind = content_type(head, lambda: read_all(uploaded))
    if kind not in settings.CHAT_UPLOAD_TYPES:
        raise Refused(
            "type_not_allowed",
            415,
            f"{kind} is not taken; allowed: {', '.join(settings.CHAT_UPLOAD_TYPES)}",
        )
    upload = Upload(
        room=room, user=user, name=clean_name(uploaded.name or ""), content_type=kind
    )
    folder = f"chat/{room.pk}/{upload.id}"
    if kind in IMAGES:
        data, thumbnail, upload.width, upload.height = cleaned_image(uploaded, kind)
        upload.thumbnail.name = default_storage.save(
            f"{folder}/thumbnail.webp", ContentFile(thumbnail)
        )
        stored = ContentFile(data)
    else:
        uploaded.seek(0)
        stored = uploaded
    upload.size = stored.size
    upload.file.name = default_storage.save(f"{folder}/{upload.name}", stored)
    upload.save(force_insert=True)
    return upload


def read_all(uploaded):
    uploaded.seek(0)
    return uploaded.read()


def too_large():
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    return Refused("file_too_large", 413, f"a file is at most {limit} bytes")


def cleaned_image(uploaded, kind):
    """The image's bytes without metadata, its thumbnail, its width and height."""
    uploaded.seek(0)
    try:
        with Image.open(uploaded, formats=[IMAGES[kind]]) as image:
            # Every frame of an animation is decoded: they count together.
            frames = image.n_frames if kind == "image/gif" else 1
            if image.width * image.height * frames > settings.CHAT_IMAGE_MAX_PIXELS:
                raise Refused(
                    "image_too_large",
                    413,
                    f"an image is at most {settings.CHAT_IMAGE_MAX_PIXELS} pixels"
                    " (an animation's frames together)",
                )
            image.load()
            upright = ImageOps.exif_transpose(image) if kind != "image/gif" else image
            data = encoded(upright, kind, frames)
            thumbnail = upright.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise Refused("invalid_image", 415, f"not a readable image: {error}") from None
    except Image.DecompressionBombError:
        raise Refused("image_too_large", 413, "the image is too large") from None
    side = settings.CHAT_THUMBNAIL_SIZE
    thumbnail.thumbnail((side, side))
    if thumbnail.mode not in ("RGB", "RGBA"):
        thumbnail = thumbnail.convert("RGBA")
    small = io.BytesIO()
    thumbnail.save(small, "WEBP", quality=80)
    return data, small.getvalue(), upright.width, upright.height


def encoded(image, kind, frames):
    """The image saved again in its own format, with nothing but its pixels,
    its colour profile and, for a GIF, its frames and timing."""
    image.info = {k: v for k, v in image.info.items() if k in KEPT_INFO}
    profile = image.info.get("icc_profile")
    out = io.BytesIO()
    if kind == "image/jpeg":
        image.save(out, "JPEG", quality=90, icc_profile=profile)
    elif kind == "image/gif":
        image.save(out, "GIF", save_all=frames > 1)
    elif kind == "image/webp":
        image.save(out, "WEBP", quality=90, icc_profile=profile)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def attach(room, user, seq, ids):
    """Make the uploads ``ids`` (``user``'s own, in ``room``, not yet sent)
    message ``seq``'s files; their wire forms, in the order given."""
    if not ids:
        return []
    if not user.is_authenticated:
        raise ProtocolError(protocol.UNKNOWN_FILE)
    found = {
        u.pk: u
        for u in Upload.objects.select_for_update().filter(
            pk__in=ids, room=room, user=user, seq__isnull=True
        )
    }
    if len(found) != len(set(ids)) or len(ids) != len(set(ids)):
        raise ProtocolError(protocol.UNKNOWN_FILE)
    Upload.objects.filter(pk__in=ids).update(seq=seq)
    return [found[i].wire for i in ids]


def remove(room, seq):
    """Delete message ``seq``'s files: their rows now, their bytes once the
    deletion commits (a rollback leaves them as they were)."""
    uploads = list(Upload.objects.filter(room=room, seq=seq))
    if not uploads:
        return
    Upload.objects.filter(pk__in=[u.pk for u in uploads]).delete()
    names = [f.name for u in uploads for f in (u.file, u.thumbnail) if f]
    transaction.on_commit(lambda: delete_stored(names))


def prune_unsent():
    """Delete the uploads no message named within CHAT_UPLOAD_UNSENT_HOURS,
    with their bytes; how many."""
    cutoff = timezone.now() - timedelta(hours=settings.CHAT_UPLOAD_UNSENT_HOURS)
    count = 0
    for upload in Upload.objects.filter(seq__isnull=True, created__lt=cutoff):
        with transaction.atomic():
            claimed = Upload.objects.filter(pk=upload.pk, seq__isnull=True)
            if claimed.delete()[0]:
                count += 1
                names = [f.name for f in (upload.file, upload.thumbnail) if f]
                transaction.on_commit(lambda n=names: delete_stored(n))
    return count


def delete_stored(names):
    for name in names:
        default_storage.delete(name)
