"""Production: secure by default; refuses to start without a real SECRET_KEY."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSECURE_DEV_PSEUDONYM_KEY, INSECURE_DEV_SECRET_KEY, PSEUDONYM_KEY, SECRET_KEY, env

DEBUG = False
# .env.example's values start with "change-me": copying the file without editing it is refused.
if SECRET_KEY == INSECURE_DEV_SECRET_KEY or SECRET_KEY.startswith("change-me") \
        or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("Set SECRET_KEY to a random value of at least 50 characters.")
# The key of participants' identity hashes: with the published development key, a known date of
# birth would narrow a pseudonym to a searchable range of National Insurance numbers.
if PSEUDONYM_KEY == INSECURE_DEV_PSEUDONYM_KEY or PSEUDONYM_KEY.startswith("change-me") \
        or len(PSEUDONYM_KEY) < 32:
    raise ImproperlyConfigured("Set PSEUDONYM_KEY to a random value of at least 32 characters, "
                               "kept as secret as the data (it cannot be changed later).")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}
