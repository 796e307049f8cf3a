from django.conf import settings
from django.shortcuts import render


def chat_page(request):
    """The browser chat: rooms, history, presence, typing, direct messages."""
    return render(
        request, "chat/index.html", {"max_text_length": settings.CHAT_MAX_TEXT_LENGTH}
    )
