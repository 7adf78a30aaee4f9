"""An application's own sitecustomize: riemann-auto must still run it."""

import os

os.environ["APP_SITECUSTOMIZE_RAN"] = "yes"
