"""Every routing style: path, re_path, include (namespaced, nested, regex), names or none."""

from django.urls import include, path, re_path

from django_site import views

try:
    from django_site import api
except ImportError:  # no Django REST framework
    api = None

legacy = [
    re_path(r"^(?P<slug>[-\w]+)/$", views.LegacyView.as_view()),
]

urlpatterns = [
    path("users/", views.list_users, name="list_users"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive, name="archive"),
    path("unnamed/", views.unnamed),
    path("hello/", views.hello, name="hello"),
    path("health/", views.health, name="health"),
    path("items/", views.ItemsView.as_view(), name="items"),
    path("async-items/", views.AsyncItemsView.as_view()),
    path("slow-async/", views.slow_async, name="slow_async"),
    path("articles/", include("django_site.articles")),
    path("blog/", include(("django_site.articles", "articles"), namespace="blog")),
    re_path(r"^legacy/", include(legacy)),
    path("missing/", views.missing, name="missing"),
    path("forbidden/", views.forbidden, name="forbidden"),
    path("suspicious/", views.suspicious, name="suspicious"),
    path("fail/", views.fail, name="fail"),
    path("fail-async/", views.fail_async, name="fail_async"),
    path("handled/", views.handled, name="handled"),
    path("server-error/", views.server_error, name="server_error"),
    path("unavailable/", views.unavailable, name="unavailable"),
    path("stream/", views.stream, name="stream"),
    path("stream-fail/", views.stream_fail, name="stream_fail"),
    path("stream-async/", views.stream_async, name="stream_async"),
    path("download/", views.download, name="download"),
]
if api is not None:
    urlpatterns += [
        path("api/ping/", api.Ping.as_view()),
        path("api/", include(api.router.urls)),
    ]
