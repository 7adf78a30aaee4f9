"""Settings of the test project: no database, no apps, one exception middleware."""

SECRET_KEY = "riemann-auto tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "django_site.urls"
WSGI_APPLICATION = "django_site.wsgi.application"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django_site.middleware.TeapotForKeyError",
]
DATABASES: dict = {}
USE_TZ = True
# Servers' readiness lines on stderr (runserver says it on stdout); no tracebacks.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.utils.autoreload": {"handlers": ["stderr"], "level": "INFO"},
        "django.request": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
# Django REST framework, where installed: JSON only, no authentication (no database).
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
