"""A middleware that turns a view's KeyError into a 418 answer."""

from django.http import HttpResponse


class TeapotForKeyError:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, KeyError):
            return HttpResponse("handled", status=418)
        return None
