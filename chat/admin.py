from django.contrib import admin

from .models import Event, Membership, ModerationAction, ReadState, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "private", "owner", "last_seq", "epoch", "created")
    list_filter = ("private",)
    search_fields = ("name",)
    raw_id_fields = ("owner",)
    inlines = [MembershipInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "kind", "author", "text", "target", "created")
    list_filter = ("kind", "deleted")
    search_fields = ("author", "text")
    raw_id_fields = ("room", "user")


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The record of what owners and moderators did: read-only."""

    list_display = ("created", "room", "actor", "action", "subject", "target")
    list_filter = ("action",)
    search_fields = ("room__name", "actor__username", "subject")
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReadState)
class ReadStateAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "seq")
    raw_id_fields = ("room", "user")
