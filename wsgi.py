"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`, and the
worker: `huey_consumer wsgi.huey`."""
from app import create_app
from app.tasks import huey  # noqa: F401  (the consumer's entry point)

app = create_app()
