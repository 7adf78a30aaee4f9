"""A small Django project exercising every way a view can be routed and answer."""
