"""Cursor pagination: stable pages under concurrent inserts and no COUNT(*) per page."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Newest first; the id breaks ties so no row is skipped or repeated between pages.
    ordering = ("-created_at", "-id")
