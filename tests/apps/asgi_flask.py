"""flaskapp's Flask app as an ASGI app (asgiref's WsgiToAsgi), for uvicorn: asgi_flask:app."""

import flaskapp
from asgiref.wsgi import WsgiToAsgi

app = WsgiToAsgi(flaskapp.app)
