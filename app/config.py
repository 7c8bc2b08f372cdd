"""Configuration: safe defaults first, then environment variables (12-factor).

Everything a depot changes to scale out (database, queue, rate-limit storage,
secrets) is an environment variable; nothing secret is ever written to the repo.
"""
import os
import secrets
from datetime import timedelta

MB = 1024 * 1024


def defaults(instance_path):
    """The settings a fresh machine runs with."""
    return {
        "DATABASE_URL": "sqlite:///" + os.path.join(instance_path, "touchpoint.db"),
        "PHOTO_FOLDER": os.path.join(instance_path, "photos"),
        "PHOTO_MAX_BYTES": 10 * MB,
        "PHOTO_MAX_PIXELS": 1600,
        # The whole request may carry a 10 MB photo plus the form's text.
        "MAX_CONTENT_LENGTH": 11 * MB,
        # Werkzeug applies this per multipart chunk, file data included: keep it well
        # above its 64 KiB chunk size or dense JPEGs are refused at random.
        "MAX_FORM_MEMORY_SIZE": 256 * 1024,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "touchpoint_session",
        # No remember-me cookie is ever set (the session itself lasts 14 days),
        # but should one be, it gets the same protection.
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        # CSRF is checked in a before_request hook so that Bearer-token calls
        # (which no browser sends cross-site) can skip it; see app/auth.py.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        # Where login attempts are counted. memory:// is each process's own, so
        # it holds the limit only in one process (gunicorn --workers 1 --threads N;
        # app/serving.py refuses more); several processes or instances share redis://.
        "RATELIMIT_STORAGE_URI": "memory://",
        # Keeps the counts of depots (or test runs) sharing one Redis apart.
        "RATELIMIT_KEY_PREFIX": "touchpoint",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
        "PASSWORD_HASH_METHOD": "scrypt",
        "DEPOT_TIMEZONE": "UTC",
        # Money on every page: an ISO 4217 code, written as the locale writes it.
        "DEPOT_CURRENCY": "GBP",
        "DEPOT_LOCALE": "en_GB",
        # Phone numbers typed without a country code are read as this region's
        # (ISO 3166 alpha-2), stored as E.164 and shown in its national format.
        "DEPOT_REGION": "GB",
        "PROXY_FIX": 0,
        "FORCE_HTTPS_COOKIES": False,
        # The task queue: a SQLite file of its own by default, or redis://….
        "QUEUE_URL": "sqlite:///" + os.path.join(instance_path, "queue.db"),
        # The queue's name in it: app instances and consumers of one depot share it,
        # depots (or test runs) sharing one Redis each have their own.
        "QUEUE_NAME": "touchpoint",
        # How often an idle worker looks for work on a polling queue (SQLite);
        # alerts must leave within a fraction of a second of a submit.
        "QUEUE_POLL_SECONDS": 0.05,
        "QUEUE_WORKERS": 4,
        # Web push. Keys come from the environment or instance/vapid_*.pem
        # (`flask --app wsgi vapid-keys`); the subject is how push services
        # reach the operator (mailto: with a real domain, or https:).
        "VAPID_PRIVATE_KEY": "",
        "VAPID_PUBLIC_KEY": "",
        "VAPID_SUBJECT": "",
        # Hosts the server may POST push messages to (a leading "." allows
        # subdomains): FCM, Mozilla, Apple and Microsoft (WNS).
        "PUSH_SERVICE_HOSTS": ("fcm.googleapis.com,updates.push.services.mozilla.com,"
                               ".push.apple.com,.notify.windows.com"),
        "PUSH_CA_BUNDLE": "",
        "PUSH_CONNECT_TIMEOUT_SECONDS": 3.05,
        "PUSH_READ_TIMEOUT_SECONDS": 10.0,
        "PUSH_MAX_DEVICES": 10,
        # Requests at once to one push service in a fan-out (more hide its
        # round trips; on a small machine fewer spare the CPU).
        "PUSH_HOST_CONCURRENCY": 8,
        "PUSH_RETRY_BASE_SECONDS": 2.0,
        "PUSH_RETRY_CAP_SECONDS": 600.0,
        # Every worker process beats this often; one silent for a lease is
        # dead and its deliveries are taken up, lease + a beat + the sending
        # within 10 s of a crash on another machine (app/delivery.py).
        "PUSH_HEARTBEAT_SECONDS": 1.0,
        "PUSH_LEASE_SECONDS": 5.0,
        # Escalation deadlines per temperature, in minutes.
        "DEADLINE_HOT_MINUTES": 15,
        "DEADLINE_WARM_MINUTES": 240,
        "DEADLINE_FYI_MINUTES": 1440,
        "DEVELOPMENT": False,
    }


ENV_STRINGS = ("DATABASE_URL", "SECRET_KEY", "PHOTO_FOLDER", "RATELIMIT_STORAGE_URI",
               "LOGIN_RATE_LIMIT", "DEPOT_TIMEZONE", "PASSWORD_HASH_METHOD", "QUEUE_URL",
               "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT", "PUSH_SERVICE_HOSTS",
               "PUSH_CA_BUNDLE", "DEPOT_CURRENCY", "DEPOT_LOCALE", "DEPOT_REGION",
               "QUEUE_NAME", "RATELIMIT_KEY_PREFIX")
ENV_INTS = ("PHOTO_MAX_BYTES", "MAX_CONTENT_LENGTH", "PROXY_FIX", "QUEUE_WORKERS",
            "PUSH_MAX_DEVICES", "PUSH_HOST_CONCURRENCY", "DEADLINE_HOT_MINUTES",
            "DEADLINE_WARM_MINUTES", "DEADLINE_FYI_MINUTES")
ENV_FLOATS = ("QUEUE_POLL_SECONDS", "PUSH_RETRY_BASE_SECONDS", "PUSH_RETRY_CAP_SECONDS",
              "PUSH_HEARTBEAT_SECONDS", "PUSH_LEASE_SECONDS",
              "PUSH_CONNECT_TIMEOUT_SECONDS", "PUSH_READ_TIMEOUT_SECONDS")
ENV_BOOLS = ("FORCE_HTTPS_COOKIES", "DEVELOPMENT")


def from_environment(environ=os.environ):
    """The settings the environment overrides, converted to their types."""
    found = {name: environ[name] for name in ENV_STRINGS if environ.get(name)}
    found.update({name: int(environ[name]) for name in ENV_INTS if environ.get(name)})
    found.update({name: float(environ[name]) for name in ENV_FLOATS if environ.get(name)})
    found.update({name: environ[name].lower() in ("1", "true", "yes")
                  for name in ENV_BOOLS if environ.get(name)})
    return found


def load_secret_key(instance_path):
    """Read the instance's secret key, generating it on first run.

    The key is written to a temporary file and linked into place, so that
    several workers starting at once all end up reading the same key.
    """
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        tmp = "%s.%s" % (path, secrets.token_hex(4))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path) as f:
        return f.read().strip()
