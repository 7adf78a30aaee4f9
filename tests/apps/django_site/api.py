"""DRF views, when Django REST framework is installed: an APIView and a routed ViewSet."""

from rest_framework import routers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView


class Ping(APIView):
    def get(self, request):
        return Response({"pong": True})


class BookViewSet(viewsets.ViewSet):
    def list(self, request):
        return Response([{"id": 1}])

    def retrieve(self, request, pk=None):
        if pk != "1":
            raise NotFound("no such book")
        return Response({"id": 1})


router = routers.SimpleRouter()
router.register("books", BookViewSet, basename="book")
