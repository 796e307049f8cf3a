"""The chat's HTTP side: its page, and its files (chat/files.py), uploaded by
a signed-in user into a room they may post in, and served to those who may
read that room. Every refusal is ``{"error": code, "detail": text}`` with
the status docs/chat-protocol.md gives for it."""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.views.csrf import csrf_failure as page_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from . import files, protocol, storage
from .models import Upload
from .protocol import ProtocolError

STATUS_OF = {
    protocol.UNKNOWN_ROOM.code: 404,
    protocol.LOGIN_REQUIRED.code: 401,
    protocol.INVALID_FIELD.code: 400,
}
# Room errors not listed are refusals: forbidden, banned, muted.
REFUSED = 403
# A multipart body's bytes besides its file: the room's name and the parts' headers.
FORM_OVERHEAD = 16 * 1024
# A file is served as itself and nothing else: no script, no plugin, no frame.
FILE_POLICY = "default-src 'none'; sandbox"


@ensure_csrf_cookie
def chat_page(request):
    """The browser chat: rooms, history, presence, typing, direct messages,
    threads, search and files (its uploads send the CSRF cookie back)."""
    return render(
        request,
        "chat/index.html",
        {
            "max_text_length": settings.CHAT_MAX_TEXT_LENGTH,
            "max_upload_bytes": settings.CHAT_UPLOAD_MAX_BYTES,
            "upload_types": ",".join(settings.CHAT_UPLOAD_TYPES),
        },
    )


def error(code, status, detail):
    return JsonResponse({"error": code, "detail": detail}, status=status)


def refusal(problem):
    status = STATUS_OF.get(problem.error.code, REFUSED)
    return error(problem.error.code, status, problem.detail)


@require_POST
def upload(request):
    """POST /chat/files (multipart: ``room``, ``file``): 201 and the file as a
    message's ``files`` lists it, for the next message to name by its id."""
    if not request.user.is_authenticated:
        return refusal(ProtocolError(protocol.LOGIN_REQUIRED))
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.CHAT_UPLOAD_MAX_BYTES + FORM_OVERHEAD:
        return too_large()
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return refusal(ProtocolError(protocol.INVALID_FIELD, "no file part"))
    try:
        room = storage.room_to_upload_to(request.POST.get("room", ""), request.user)
        stored = files.accept(uploaded, room, request.user)
    except ProtocolError as problem:
        return refusal(problem)
    except files.Refused as refused:
        return error(refused.code, refused.status, refused.detail)
    return JsonResponse(stored.wire, status=201)


def csrf_failure(request, reason=""):
    """An upload without the CSRF cookie and header is answered as the
    endpoint answers; a form's failure is Django's page."""
    if request.path == "/chat/files":
        return error(
            "csrf_failed",
            REFUSED,
            f"send the csrftoken cookie as X-CSRFToken ({reason})",
        )
    return page_csrf_failure(request, reason)


def too_large():
    refused = files.too_large()
    return error(refused.code, refused.status, refused.detail)


@require_GET
def served(request, upload_id, name=None):
    """GET /chat/files/<id>/<name>: the file, to a reader of its room (or its
    uploader, before it is sent); an image is shown, anything else downloaded."""
    return serve(request, upload_id, thumbnail=False)


@require_GET
def thumbnail(request, upload_id):
    """GET /chat/thumbnails/<id>: an image's thumbnail, as a WebP."""
    return serve(request, upload_id, thumbnail=True)


def serve(request, upload_id, thumbnail):
    upload = Upload.objects.select_related("room").filter(pk=upload_id).first()
    if upload is None or (upload.seq is None and upload.user_id != request.user.pk):
        return error("unknown_file", 404, "no such file")
    try:
        storage.may_read(upload.room, request.user)
    except ProtocolError as problem:
        return refusal(problem)
    kept = upload.thumbnail if thumbnail else upload.file
    if not kept:
        raise Http404
    is_image = upload.content_type in files.IMAGES
    response = FileResponse(
        default_storage.open(kept.name),
        as_attachment=not is_image,
        filename=upload.name,
        content_type="image/webp" if thumbnail else content_type(upload),
    )
    response["Content-Security-Policy"] = FILE_POLICY
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Cached by the reader's browser alone, and not for long: someone taken
    # out of the room is refused the next time.
    response["Cache-Control"] = "private, max-age=300"
    return response


def content_type(upload):
    if upload.content_type == "text/plain":
        return "text/plain; charset=utf-8"
    return upload.content_type
