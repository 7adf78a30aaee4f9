"""An app's URLconf, included under a namespace."""

from django.http import HttpResponse
from django.urls import path
from django.views import View

app_name = "articles"


class ArticleView(View):
    def get(self, request, year, slug):
        return HttpResponse(f"{year}/{slug}")


def index(request):
    return HttpResponse("articles")


urlpatterns = [
    path("", index, name="index"),
    path("<int:year>/<slug:slug>/", ArticleView.as_view(), name="detail"),
]
