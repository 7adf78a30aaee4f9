"""The folder riemann-run puts first on PYTHONPATH; only sitecustomize.py matters."""
