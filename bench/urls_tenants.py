"""Organization hosts under bench.settings: the reference views, then the product's routes."""

from django.urls import path

from bench.views import BareTaskList, floor_task_list
from saas.urls_tenants import handler400, handler403, handler404, handler500  # noqa: F401
from saas.urls_tenants import urlpatterns as product_urlpatterns

urlpatterns = [
    # Before the product's: its URLconf ends with a JSON 404 for every other /api/ URL.
    path("api/bench/drf-tasks/", BareTaskList.as_view()),
    path("api/bench/floor-tasks/", floor_task_list),
    *product_urlpatterns,
]
