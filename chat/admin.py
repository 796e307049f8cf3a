from django.contrib import admin

from .models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "private", "last_seq", "created")
    list_filter = ("private",)
    search_fields = ("name",)
    filter_horizontal = ("members",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "author", "text", "created")
    list_filter = ("room",)
    search_fields = ("author", "text")
    raw_id_fields = ("room", "user")
