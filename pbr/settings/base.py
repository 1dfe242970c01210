"""Settings shared by every environment.

Every value that differs between machines is read from the environment here, in one place
(django-environ). The dev/test/production modules only change behaviour, never read env.
"""

from pathlib import Path

import environ
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env file is optional and only for developers; production sets real variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Environment -------------------------------------------------------------------------------
# The insecure default exists only so a fresh clone runs; production.py refuses it.
INSECURE_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pbr.sqlite3'}"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

# Empty broker means "no broker": tasks run in-process (see CELERY_TASK_ALWAYS_EAGER below).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or "")

# Evidence files are private: never under MEDIA_URL, only served through a permission-checked view.
EVIDENCE_ROOT = Path(env.str("EVIDENCE_ROOT", default=str(VAR_DIR / "evidence")))
EVIDENCE_S3_BUCKET = env.str("EVIDENCE_S3_BUCKET", default="")
EVIDENCE_S3_ENDPOINT_URL = env.str("EVIDENCE_S3_ENDPOINT_URL", default="")
EVIDENCE_S3_REGION = env.str("EVIDENCE_S3_REGION", default="")
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
# An upload larger than this is written to a temporary file as it arrives, never held in memory;
# evidence and return files are then read from disk in chunks (outcomes/evidence.py). A 50 MB
# upload raises the server's memory by a few MB (docs/performance.md).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Keyed hash for pseudonymising participant identifiers (returns issue); separate from SECRET_KEY
# so that rotating session keys never breaks cross-provider duplicate matching.
INSECURE_DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key"
PSEUDONYM_KEY = env.str("PSEUDONYM_KEY", default=INSECURE_DEV_PSEUDONYM_KEY)

EMAIL_URL = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_URL)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pbr@localhost")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
SITE_NAME = env.str("SITE_NAME", default="Payment by Results")

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "pbr",
    "contracts",
    "outcomes",
    "payments",
    # Sign-in hardening (ADR 0015): lockout after repeated failures, and TOTP two-factor.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pbr.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "pbr.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # ADR 0015: which device verified this session; idle and absolute session expiry; nothing but
    # the two-factor pages until a role that needs it has entered a code; the lockout page (last).
    "django_otp.middleware.OTPMiddleware",
    "pbr.auth_session.SessionExpiryMiddleware",
    "pbr.mfa.MfaRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]
# The lockout backend refuses a locked-out username+address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "pbr.auth_lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "pbr.urls"
WSGI_APPLICATION = "pbr.wsgi.application"
AUTH_USER_MODEL = "pbr.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pbr.context_processors.navigation",
            ],
        },
    },
]

# Django's rules with GOV.UK-style messages (pbr/auth_passwords.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "pbr.auth_passwords.SimilarityValidator"},
    {"NAME": "pbr.auth_passwords.LengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "pbr.auth_passwords.CommonValidator"},
    {"NAME": "pbr.auth_passwords.NumericValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sessions and cookies ----------------------------------------------------------------------
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Content Security Policy and security headers (ADR 0016) -----------------------------------
# Nothing from another origin is loaded, and no inline script or style runs except a <script>
# carrying this response's nonce (templates/base.html: GOV.UK Frontend's one-line "JavaScript is
# available" snippet). Frames and plugins are refused site-wide; the claim review page alone
# allows frames from this site, for evidence shown inline (outcomes/views_verification.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF, CSP_NONCE],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "frame-src": [CSP_NONE],
        "object-src": [CSP_NONE],
        "frame-ancestors": [CSP_NONE],
        "form-action": [CSP_SELF],
        "base-uri": [CSP_SELF],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Browser features this service never uses, switched off for every page (pbr.middleware).
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb", "xr-spatial-tracking")
}

# --- Static files ------------------------------------------------------------------------------
# GOV.UK Frontend's compiled CSS refers to its fonts and images as /assets/..., so static files
# are served from /assets/ and its asset folder is mounted at the root of that URL space.
NODE_MODULES = BASE_DIR / "node_modules"
STATIC_URL = "/assets/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    NODE_MODULES / "govuk-frontend" / "dist" / "govuk" / "assets",
    ("govuk", NODE_MODULES / "govuk-frontend" / "dist" / "govuk"),
    ("htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("chartjs", NODE_MODULES / "chart.js" / "dist"),
]


def _evidence_storage():
    if EVIDENCE_S3_BUCKET:
        options = {"bucket_name": EVIDENCE_S3_BUCKET, "default_acl": "private",
                   "querystring_auth": True, "file_overwrite": False}
        if EVIDENCE_S3_ENDPOINT_URL:
            options["endpoint_url"] = EVIDENCE_S3_ENDPOINT_URL
        if EVIDENCE_S3_REGION:
            options["region_name"] = EVIDENCE_S3_REGION
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    # This storage cannot produce a URL, so nothing can link to evidence directly.
    return {
        "BACKEND": "pbr.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(EVIDENCE_ROOT),
                    "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    }


STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "files")},
    },
    "evidence": _evidence_storage(),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pbr.api.authentication.OrganisationTokenAuthentication",
        # A browser session counts only once its two-factor step is done (pbr/mfa.py).
        "pbr.mfa.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Payment by Results API",
    "DESCRIPTION": "API for commissioners, providers' case systems and auditors. "
    "Authenticate with `Authorization: Token <key>` (organisation API token) or a browser session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field called "status" or "kind" with different choices: name each
    # choice set after its class so the schema's enums are stable and readable.
    "ENUM_NAME_OVERRIDES": {
        "OrganisationKindEnum": "pbr.models.OrganisationKind",
        "RoleEnum": "pbr.models.Role",
        "JobStatusEnum": "pbr.models.JobStatus",
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "PartyRoleEnum": "contracts.models.PartyRole",
        "TermsStatusEnum": "contracts.models.TermsStatus",
        "ReturnStatusEnum": "outcomes.models.ReturnStatus",
        "ReminderKindEnum": "outcomes.models.ReminderKind",
        "UploadStatusEnum": "outcomes.models.UploadStatus",
        "ClaimStatusEnum": "outcomes.models.ClaimStatus",
        "RejectionReasonEnum": "outcomes.verification.models.RejectionReason",
        "PolicyModeEnum": "outcomes.verification.models.PolicyMode",
        "SampleKindEnum": "outcomes.verification.models.SampleKind",
        "SampleStatusEnum": "outcomes.verification.models.SampleStatus",
        "FindingEnum": "outcomes.verification.models.Finding",
        "RunStatusEnum": "payments.models.RunStatus",
    },
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = 24 * 60 * 60
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"

# --- Logging -----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "pbr.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Payments ----------------------------------------------------------------------------------
# Runs paying more than this (in pounds) need a second, different approver.
PBR_SECOND_APPROVAL_ABOVE = env.str("PBR_SECOND_APPROVAL_ABOVE", default="100000")
# Tests only: seconds a payment computation waits before committing, so a test can kill a worker
# mid-transaction. Always 0 in real use.
PBR_TEST_RUN_PAUSE = env.float("PBR_TEST_RUN_PAUSE", default=0.0)

# --- Returns -----------------------------------------------------------------------------------
# The contract format has no submission deadline, so a period's return is due this many days
# after the period ends (docs/returns-format.md, "Deadlines").
PBR_RETURN_DUE_DAYS = env.int("PBR_RETURN_DUE_DAYS", default=10)
# Reminder emails go to the provider's users this many days before a return is due (and once
# on the day after a missed deadline).
PBR_RETURN_REMINDER_DAYS = env.int("PBR_RETURN_REMINDER_DAYS", default=5)
# The claim window: this many days after a period ends (plus the calendar's
# post_contract_claim_days for a contract's last period) its submitted returns are locked.
PBR_CLAIM_WINDOW_DAYS = env.int("PBR_CLAIM_WINDOW_DAYS", default=60)
# Return files larger than this are checked and saved in the background with a progress page.
PBR_UPLOAD_BACKGROUND_BYTES = env.int("PBR_UPLOAD_BACKGROUND_BYTES", default=1024 * 1024)
# The address links in emails point at (no request exists when the nightly task runs).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Sign-in: lockout, two-factor authentication, session expiry (ADR 0015) --------------------
# django-axes locks one username from one address after this many failed passwords or codes
# within the lockout period, for that period. Another person at the same address, and the same
# person elsewhere, can still sign in.
AXES_FAILURE_LIMIT = env.int("PBR_SIGN_IN_FAILURE_LIMIT", default=5)
PBR_SIGN_IN_LOCKOUT_MINUTES = env.int("PBR_SIGN_IN_LOCKOUT_MINUTES", default=30)
AXES_COOLOFF_TIME = PBR_SIGN_IN_LOCKOUT_MINUTES / 60  # hours, as a float
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Attempts during a lockout do not extend it, so the page can say when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Failures are cleared by a complete sign-in (after the code, for two-factor users), not by
# a correct password alone: pbr/auth_lockout.py.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "pbr.auth_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "pbr.auth_lockout.client_ip"
# Successful sign-ins are not copied into a second, unmanaged table of addresses.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Behind N proxies that each append to X-Forwarded-For, the client is the Nth address from the
# right; 0 means "no proxy": REMOTE_ADDR.
PBR_TRUSTED_PROXY_COUNT = env.int("PBR_TRUSTED_PROXY_COUNT", default=0)

# Two-factor authentication (TOTP, django-otp): commissioners, auditors and site admins must,
# anyone else may (pbr/mfa.py). Authenticator apps show the account under this name.
OTP_TOTP_ISSUER = SITE_NAME

# A session ends after this long without a request, and never lasts longer than
# SESSION_COOKIE_AGE from sign-in however busy it is (pbr/auth_session.py).
PBR_SESSION_IDLE_MINUTES = env.int("PBR_SESSION_IDLE_MINUTES", default=30)

# --- Data protection (docs/security.md, ADR 0017) ----------------------------------------------
# Days after a contract's end date after which its evidence files are deleted and its
# participants pseudonymised (manage.py apply_retention, nightly). Six years (2,192 days, leap
# days included): the limitation period for claims under a contract (Limitation Act 1980 s.5)
# and the usual retention of public-sector financial records, within which a payment may still
# be audited, disputed or clawed back. Raise it where a funder requires longer.
PBR_EVIDENCE_RETENTION_DAYS = env.int("PBR_EVIDENCE_RETENTION_DAYS", default=6 * 365 + 2)
