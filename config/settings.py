"""Accord's one settings module, driven by environment variables.

With nothing set, Accord runs on the *embedded default*: a SQLite file, an in-memory channel
layer, eager Celery tasks and e-mail printed on the console. Production sets at least
DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("ACCORD_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default is what a newcomer gets with no DATABASE_URL: a local SQLite file.
EMBEDDED = "DATABASE_URL" not in env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set.")
    SECRET_KEY = "embedded-default-only-not-a-secret"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "config.admin.AccordAdminConfig",  # django.contrib.admin, titled Accord
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # viewflow's flow engine only: its "viewflow" frontend app ships CSS that references
    # missing font files, which breaks collectstatic; the chart template is overridden here.
    "viewflow.workflow",
    "workflows",
    "signatures",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "workflows.middleware.RefuseNulCharacters",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a log-in refused by a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'accord.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so two writers queue up instead
    # of failing half-way with "database is locked"; WAL lets readers go on meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workflows.User"

# --- Redis: channel layer and Celery -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Redis channels are shared by all its databases: a prefix keeps apart several
            # Accords (or test runs) on one Redis.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("ACCORD_CHANNEL_PREFIX", "asgi")},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # Shared by every server process: log-in throttling counts across all of them. Short
    # socket timeouts: with Redis away, the API's log-in throttle lets requests through
    # (workflows.api.throttling) instead of hanging or answering 500.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": env.float("ACCORD_REDIS_TIMEOUT", default=1.0),
                "socket_timeout": env.float("ACCORD_REDIS_TIMEOUT", default=1.0),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://localhost/"  # a host named: kombu warns without one
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "Europe/Paris"
CELERY_BEAT_SCHEDULE = {
    # Every chain recomputed nightly: an entry edited behind the database's back (trigger
    # disabled) alerts the administrators by e-mail the next morning at the latest.
    "verify-histories": {
        "task": "workflows.tasks.verify_histories",
        "schedule": crontab(hour=3, minute=30),
    },
    # Absences start and end at midnight; hourly keeps a late declaration or a restart covered.
    "apply-delegations": {
        "task": "workflows.tasks.apply_delegations",
        "schedule": crontab(minute=5),
    },
    # Whatever the after-commit delivery missed (Redis or the mail server away) goes out here.
    "deliver-pending-notifications": {
        "task": "notifications.tasks.deliver_pending",
        "schedule": 60.0,
    },
    # Once per task and step whatever the pace: hourly catches a due date soon after it.
    "send-task-reminders": {
        "task": "workflows.tasks.send_reminders",
        "schedule": crontab(minute=15),
    },
    "send-notification-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": crontab(hour=7, minute=0),
    },
}

# --- E-mail -------------------------------------------------------------------------------
# The embedded default keeps e-mails as files in var/mail/, one per message: the demo's launch
# alone sends dozens, which would bury the console's log-ins.
if EMBEDDED and "EMAIL_URL" not in env:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
else:
    vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Accord <accord@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is alerted when a history chain is found broken (besides active staff with an address).
ADMINS = [("", address) for address in env.list("DJANGO_ADMINS", default=[])]

# --- Authentication -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# django-axes first: a locked-out account or address is refused before any password is checked
# (pages, admin, API token; the signing password goes through workflows.lockout).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed attempts are counted in the database (django-axes' handler) per account and per
# address, each with its own limit (workflows.lockout.AccordAxesHandler): one person mistyping
# their password blocks neither their colleagues behind the same address nor anyone else.
AXES_HANDLER = "workflows.lockout.AccordAxesHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("ACCORD_LOGIN_FAILURE_LIMIT", default=5)
ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ACCORD_LOGIN_COOLOFF_MINUTES", default=15))
# Attempts during a lockout are refused without being counted: the cool-off ends when it said.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The client's address as the API's throttle and the signatures' evidence read it.
AXES_CLIENT_IP_CALLABLE = "workflows.lockout.client_ip_address"
AXES_LOCKOUT_CALLABLE = "workflows.http.lockout_response"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "workflows:contract_list"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation: French first, English available --------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "not authenticated" into a 401
    # (DRF answers 403 when the first class has none). Session authentication enforces CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, refusing a NUL character (PostgreSQL stores none in a text) as bad input.
    "DEFAULT_PARSER_CLASSES": [
        "workflows.api.parsers.JSONParser",
        "workflows.api.parsers.FormParser",
        "workflows.api.parsers.MultiPartParser",
    ],
    # Only views that name a throttle_scope are throttled; counts live in the default cache.
    # With the cache (Redis) away it lets requests through rather than answer 500.
    "DEFAULT_THROTTLE_CLASSES": ["workflows.api.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"login": env.str("ACCORD_LOGIN_RATE", default="10/min")},
    # Clients are told apart by REMOTE_ADDR unless this many reverse proxies are trusted to
    # set X-Forwarded-For: otherwise anyone could dodge the login throttle with a made-up one.
    "NUM_PROXIES": env.int("ACCORD_TRUSTED_PROXIES", default=0),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "workflows.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": "Contracts, approval tasks and history of multi-partner public contracts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # An empty filter (?status=) is documented as no filter, which it is.
        "workflows.api.schema.empty_query_values_are_absent",
        # The 400 of the middleware that refuses a NUL character, on every operation.
        "workflows.api.schema.a_nul_character_is_a_400",
    ],
    # Several models have a "status" or "kind": one named enum each instead of a collision.
    "ENUM_NAME_OVERRIDES": {
        "ContractKindEnum": "workflows.models.ContractKind",
        "ContractStatusEnum": "workflows.models.ContractStatus",
        "ActionStatusEnum": "workflows.models.ActionStatus",
        "SignatoryKindEnum": "workflows.models.SignatoryKind",
        "SignatoryStatusEnum": "workflows.models.SignatoryStatus",
        "HistoryEventEnum": "workflows.models.HistoryEvent",
        "AttachmentKindEnum": "workflows.models.AttachmentKind",
    },
}

# --- Accord -------------------------------------------------------------------------------
ACCORD_IMPORT_MAX_BYTES = env.int("ACCORD_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ACCORD_IMPORT_MAX_BYTES + 64 * 1024
# An attachment (diagnostic, deliberation, annex, a sheet's document) may have at most this
# many bytes (413 above it). Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB) are
# spooled to a temporary file, never held in memory; the size is checked before reading.
ACCORD_ATTACHMENT_MAX_BYTES = env.int("ACCORD_ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # Tasks run in-process on the embedded default: a line per task run would bury the
    # console (the demo's launch alone sends 76 e-mails); a worker logs them as usual.
    "loggers": {
        # fontTools reports each table it prunes when fpdf2 embeds a font's used glyphs.
        "fontTools": {"level": "WARNING"},
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

# DejaVu Sans for the contract documents, so that every name prints (signatures/document.py).
ACCORD_PDF_FONT_DIR = env.str("ACCORD_PDF_FONT_DIR", default="/usr/share/fonts/truetype/dejavu")
# Encrypts the signing keys at rest (Fernet key derived from it). Required once DATABASE_URL
# is set; checked when a key is first used, so that commands needing no key run without it.
ACCORD_SIGNING_KEY = env.str("ACCORD_SIGNING_KEY", default="")
if not ACCORD_SIGNING_KEY and (DEBUG or EMBEDDED):
    ACCORD_SIGNING_KEY = "embedded-default-only-not-a-secret"
# Notifications: links in e-mails point here; delivery retries and their pace.
ACCORD_BASE_URL = env.str("ACCORD_BASE_URL", default="http://127.0.0.1:8000")
ACCORD_PUSH_TIMEOUT = env.float("ACCORD_PUSH_TIMEOUT", default=2.0)
ACCORD_DELIVERY_GRACE_SECONDS = env.int("ACCORD_DELIVERY_GRACE_SECONDS", default=30)
ACCORD_EMAIL_MAX_ATTEMPTS = env.int("ACCORD_EMAIL_MAX_ATTEMPTS", default=8)
ACCORD_EMAIL_RETRY_SECONDS = env.int("ACCORD_EMAIL_RETRY_SECONDS", default=30)
ACCORD_WEBHOOK_TIMEOUT = env.float("ACCORD_WEBHOOK_TIMEOUT", default=10.0)
ACCORD_WEBHOOK_MAX_ATTEMPTS = env.int("ACCORD_WEBHOOK_MAX_ATTEMPTS", default=8)
# Reminder this many days before a task's due date (workflow rules: 3).
ACCORD_REMINDER_DAYS_BEFORE = env.int("ACCORD_REMINDER_DAYS_BEFORE", default=3)

# Default time a person has for each kind of task, in days (workflow rules).
ACCORD_TASK_DUE_DAYS = {
    "review": env.int("ACCORD_REVIEW_DAYS", default=15),
    "revision": env.int("ACCORD_REVISION_DAYS", default=15),
    "vote": env.int("ACCORD_VOTE_DAYS", default=10),
    "deliberation": env.int("ACCORD_DELIBERATION_DAYS", default=30),
    "signature": env.int("ACCORD_SIGNATURE_DAYS", default=20),
    "report": env.int("ACCORD_REPORT_DAYS", default=30),
}

# What the other apps do about what the domain records, in this order, in the recording
# transaction (workflows.history.UnitOfWork.finish): whoever a change concerns is told, then
# a fully signed contract is sealed (its certificate covers who was told of the last signature).
ACCORD_REACTIONS = [
    "notifications.reactions.notify_recorded",
    "signatures.reactions.seal_signed_contract",
]
# Who draws up, signs and voids the contract document for the domain (workflows.documents).
ACCORD_CONTRACT_DOCUMENTS = "signatures.services.PdfContractDocuments"
# Who draws up a year's annual report for the domain (workflows.documents).
ACCORD_ANNUAL_REPORTS = "signatures.reports.PdfAnnualReports"
# Who draws up an amendment's document for the domain (workflows.documents).
ACCORD_AMENDMENT_DOCUMENTS = "signatures.amendments.PdfAmendmentDocuments"
