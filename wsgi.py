"""The WSGI entry point: `gunicorn -c python:app.serving wsgi:app` (app/serving.py
keeps the login limit whole), `flask --app wsgi …`, and the worker:
`huey_consumer wsgi.huey`."""
from app import create_app
from app.tasks import huey  # noqa: F401  (the consumer's entry point)

app = create_app()
