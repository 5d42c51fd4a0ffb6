"""Accord's one settings module, driven by environment variables.

With nothing set, Accord runs on the *embedded default*: a SQLite file, an in-memory channel
layer, eager Celery tasks and e-mail printed on the console. Production sets at least
DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from django_guid.integrations import CeleryIntegration

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("ACCORD_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default is what a newcomer gets with no DATABASE_URL: a local SQLite file.
EMBEDDED = "DATABASE_URL" not in env
# Production is neither: its secret key must be strong, its cookies sent over HTTPS only.
PRODUCTION = not (DEBUG or EMBEDDED)

EMBEDDED_SECRET_KEY = "embedded-default-only-not-a-secret"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")


def secret_key_weakness(key: str) -> str:
    """Why ``key`` may not sign production's sessions and tokens ("" when it may): too short,
    too few different characters, or a default anyone can read (Django's generated
    ``django-insecure-`` keys, the embedded default's)."""
    if len(key) < 50:
        return f"it has {len(key)} characters, fewer than 50"
    if len(set(key)) < 10:
        return f"it has only {len(set(key))} different characters, fewer than 10"
    if key.startswith("django-insecure") or key == EMBEDDED_SECRET_KEY:
        return "it is a published default"
    return ""


if PRODUCTION:
    # A weak key lets anyone forge sessions, password-reset links and signed
    # values; refuse to start rather than run with it.
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set.")
    if weakness := secret_key_weakness(SECRET_KEY):
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak for production: {weakness}. Generate one with"
            " `python3 -c 'import secrets; print(secrets.token_urlsafe(50))'` (docs/security.md)."
        )
elif not SECRET_KEY:
    SECRET_KEY = EMBEDDED_SECRET_KEY

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
    # Two-factor authentication: an authenticator app's codes (TOTP) and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    # Operations: health endpoints, Prometheus metrics, a request id on every log line.
    "health_check",
    "django_prometheus",
    "django_guid",
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
    # First and (almost) last: the whole request is timed and counted (/metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request id (X-Request-ID from the proxy, or a new one): on every log line of the
    # request, returned in the response, carried into the Celery tasks it queues.
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "workflows.middleware.RefuseNulCharacters",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second step (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a log-in refused by a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
    # A view that found no free database connection in time: 503 and Retry-After, not 500.
    "config.overload.ServiceOverloaded",
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
# Behind PgBouncer in transaction pooling mode, a server-side cursor (QuerySet.iterator())
# would outlive the server connection it was opened on: Django then reads without them.
PGBOUNCER_TRANSACTION_POOLING = env.bool("ACCORD_PGBOUNCER_TRANSACTION_POOLING", default=False)
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = PGBOUNCER_TRANSACTION_POOLING
# A connection kept (DATABASE_URL's ?conn_max_age=, the Celery worker's case) or taken from
# the pool is checked before it is used, so that a restarted server costs a reconnection, not
# a failed request (Django passes psycopg_pool's check_connection to the pool).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The web processes' connection pool (psycopg_pool through Django's "pool" option): daphne
# runs each request's synchronous code in a thread of its own, so persistent connections
# (CONN_MAX_AGE) would be left behind by each thread; the pool hands the connection back when
# Django closes it at the end of the request. 0 (the default): one connection per request.
DB_POOL_MAX_SIZE = env.int("ACCORD_DB_POOL_MAX_SIZE", default=0)
# psycopg's server-side prepared statements, after this many runs of the same statement on a
# connection (server-side binding with it): they pay only on connections that live, that is
# with the pool. Empty (the default): none.
_prepare_threshold = env.str("ACCORD_DB_PREPARE_THRESHOLD", default="").strip()
if _prepare_threshold and not _prepare_threshold.isdigit():
    raise ImproperlyConfigured(
        f"ACCORD_DB_PREPARE_THRESHOLD must be a whole number or empty, not {_prepare_threshold!r}."
    )
DB_PREPARE_THRESHOLD = int(_prepare_threshold) if _prepare_threshold else None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    if PGBOUNCER_TRANSACTION_POOLING and DB_POOL_MAX_SIZE:
        raise ImproperlyConfigured(
            "ACCORD_DB_POOL_MAX_SIZE and ACCORD_PGBOUNCER_TRANSACTION_POOLING: PgBouncer already "
            "pools the connections; set ACCORD_DB_POOL_MAX_SIZE=0 (docs/deploy.md)."
        )
    if PGBOUNCER_TRANSACTION_POOLING and DB_PREPARE_THRESHOLD is not None:
        raise ImproperlyConfigured(
            "ACCORD_DB_PREPARE_THRESHOLD and ACCORD_PGBOUNCER_TRANSACTION_POOLING: a prepared "
            "statement lives on one server connection, which PgBouncer hands to another "
            "client after each transaction; leave ACCORD_DB_PREPARE_THRESHOLD empty."
        )
    if DB_POOL_MAX_SIZE:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(env.int("ACCORD_DB_POOL_MIN_SIZE", default=2), DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            # A request waits this long for a connection, then fails (PoolTimeout).
            "timeout": env.float("ACCORD_DB_POOL_TIMEOUT", default=10.0),
        }
    if DB_PREPARE_THRESHOLD is not None:
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": DB_PREPARE_THRESHOLD}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workflows.User"

# --- Redis: channel layer and Celery -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds before a call to Redis gives up (cache, channel layer, Celery's broker): with Redis
# away or hanging, nothing waits longer than this for it.
ACCORD_REDIS_TIMEOUT = env.float("ACCORD_REDIS_TIMEOUT", default=1.0)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_connect_timeout": ACCORD_REDIS_TIMEOUT,
                        "socket_timeout": ACCORD_REDIS_TIMEOUT,
                    }
                ],
                # Redis channels are shared by all its databases: a prefix keeps apart
                # several Accords (or test runs) on one Redis.
                "prefix": env.str("ACCORD_CHANNEL_PREFIX", "asgi"),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": ACCORD_REDIS_TIMEOUT,
        # Above the worker's one-second BRPOP poll, which this also bounds.
        "socket_timeout": max(ACCORD_REDIS_TIMEOUT, 5.0),
    }
    # Queuing a task (after commit) gives up after Celery's three retries of this each:
    # deliver_pending queues it again later.
    CELERY_BROKER_CONNECTION_TIMEOUT = ACCORD_REDIS_TIMEOUT
    # Shared by every server process: log-in throttling counts across all of them. Short
    # socket timeouts: with Redis away, the API's log-in throttle lets requests through
    # (workflows.api.throttling) instead of hanging or answering 500.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": ACCORD_REDIS_TIMEOUT,
                "socket_timeout": ACCORD_REDIS_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://localhost/"  # a host named: kombu warns without one
    CELERY_TASK_ALWAYS_EAGER = True
# Parts of pages that are the same for everyone until what they show changes, kept in each
# web process's memory under a key naming that state (the contract page's latest history
# lines: the chain's head). No network call, nothing to invalidate, lost with the process; a
# renamed person shows under the old name there for at most TIMEOUT (docs/deploy.md).
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "accord-fragments",
    "TIMEOUT": 600,
    "OPTIONS": {"MAX_ENTRIES": 2000},
}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# The workers log as the web processes do (LOGGING below: JSON lines with the request id that
# queued the task), not in Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
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
    # Staff's analytics over every contract, computed ahead (workflows.analytics.snapshots).
    "refresh-analytics": {"task": "workflows.tasks.refresh_analytics", "schedule": 600.0},
    # A seal whose after-commit task the broker lost (outside time-stamping authority only).
    "seal-pending-documents": {
        "task": "signatures.tasks.seal_pending",
        "schedule": crontab(minute="*/10"),
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
# Seconds each step of talking to the mail server may take (connect, each reply): a server
# that hangs fails the attempt, which is recorded and retried (notifications.delivery).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Accord <accord@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is alerted when a history chain is found broken (besides active staff with an address).
ADMINS = [("", address) for address in env.list("DJANGO_ADMINS", default=[])]

# --- Authentication -----------------------------------------------------------------------
# Argon2id (OWASP's m = 19 MiB, t = 2, p = 1) for new and changed passwords: 0.02 s of CPU per
# check against PBKDF2's 0.22 s (docs/benchmarks.md, "Password hashers"). The others still
# check the hashes made before, and Django re-hashes a password with the first at its next
# successful check (log-in, signature). docs/security.md, "Password hashing".
PASSWORD_HASHERS = [
    "config.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: Django's hook called once a new password is saved, wherever it is changed;
    # it closes the person's open WebSockets (notifications.auth).
    {"NAME": "notifications.auth.CloseSocketsOnPasswordChange"},
]
LOGIN_URL = "login"
# django-axes first: a locked-out account or address is refused before any password is checked
# (pages, admin, API token; the signing password goes through workflows.lockout).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, the session's person read with their organisation.
    "workflows.backends.PasswordBackend",
]
# Failed attempts are counted in the database (django-axes' handler) per account and per
# address, each with its own limit (workflows.lockout.AccordAxesHandler): one person mistyping
# their password blocks neither their colleagues behind the same address nor anyone else.
AXES_HANDLER = "workflows.lockout.AccordAxesHandler"
AXES_LOCKOUT_PARAMETERS = "workflows.lockout.lockout_parameters"  # account and address
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
# Two-factor authentication (django-otp, workflows.two_factor): whoever has enrolled an
# authenticator app types its code after the password; the administration requires it of
# staff. Signing asks for a code too when this is on: by default outside the embedded default
# (the demo signs with the password alone).
ACCORD_REQUIRE_2FA_FOR_SIGNING = env.bool("ACCORD_REQUIRE_2FA_FOR_SIGNING", default=not EMBEDDED)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env.str("ACCORD_OTP_ISSUER", default="Accord")
# The admin's lists of devices show no secret key and no recovery code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Wrong codes count towards django-axes' lockout, as wrong passwords do: one lockout, with its
# message and cool-off. django-otp's own throttle (growing delays per device) is off, or it
# would refuse a right code typed soon after a wrong one as if it were wrong.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- Single sign-on: ProConnect (OpenID Connect, mozilla-django-oidc) ----------------------
# Off unless ACCORD_OIDC_CLIENT_ID is set (docs/security.md, "Single sign-on"). Accounts are
# matched by e-mail address, never created. The endpoints are ProConnect's, under its issuer,
# unless given one by one.
ACCORD_OIDC_CLIENT_ID = env.str("ACCORD_OIDC_CLIENT_ID", default="")
ACCORD_OIDC_ENABLED = bool(ACCORD_OIDC_CLIENT_ID)
ACCORD_OIDC_ISSUER = env.str("ACCORD_OIDC_ISSUER", default="").rstrip("/")
if ACCORD_OIDC_ENABLED:
    _missing = [
        name
        for name in ("ACCORD_OIDC_CLIENT_SECRET", "ACCORD_OIDC_ISSUER")
        if not env.str(name, "")
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"ACCORD_OIDC_CLIENT_ID is set (single sign-on on): set {' and '.join(_missing)} too."
        )
    # After django-axes' backend: a locked-out address is refused before ProConnect is asked.
    AUTHENTICATION_BACKENDS.append("workflows.sso.ProConnectBackend")
OIDC_RP_CLIENT_ID = ACCORD_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = env.str("ACCORD_OIDC_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str(
    "ACCORD_OIDC_AUTHORIZATION_ENDPOINT", default=f"{ACCORD_OIDC_ISSUER}/authorize"
)
OIDC_OP_TOKEN_ENDPOINT = env.str(
    "ACCORD_OIDC_TOKEN_ENDPOINT", default=f"{ACCORD_OIDC_ISSUER}/token"
)
OIDC_OP_USER_ENDPOINT = env.str(
    "ACCORD_OIDC_USERINFO_ENDPOINT", default=f"{ACCORD_OIDC_ISSUER}/userinfo"
)
OIDC_OP_JWKS_ENDPOINT = env.str("ACCORD_OIDC_JWKS_URI", default=f"{ACCORD_OIDC_ISSUER}/jwks")
ACCORD_OIDC_END_SESSION_ENDPOINT = env.str(
    "ACCORD_OIDC_END_SESSION_ENDPOINT", default=f"{ACCORD_OIDC_ISSUER}/session/end"
)
# The ID token's and the userinfo's signature (ProConnect: RS256, ES256 or HS256, as registered).
OIDC_RP_SIGN_ALGO = env.str("ACCORD_OIDC_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("ACCORD_OIDC_SCOPES", default="openid email given_name usual_name")
# The eIDAS level asked for (ProConnect: eidas1); empty: none asked.
ACCORD_OIDC_ACR_VALUES = env.str("ACCORD_OIDC_ACR_VALUES", default="eidas1")
# Every call to the provider (token, userinfo, keys) gives up after this many seconds.
OIDC_TIMEOUT = env.float("ACCORD_OIDC_TIMEOUT", default=5.0)
OIDC_AUTHENTICATION_CALLBACK_URL = "proconnect_callback"
OIDC_CREATE_USER = False
OIDC_USE_NONCE = True
OIDC_USE_PKCE = False  # ProConnect refuses any parameter it does not know, code_challenge too
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the log-out at the provider

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
# Behind a trusted reverse proxy (ACCORD_TRUSTED_PROXIES, which must set X-Forwarded-Proto,
# docs/deploy.md), a request is secure as the proxy says: the HTTPS redirect, and the scheme
# a WebSocket's origin is compared with (notifications.auth).
if env.int("ACCORD_TRUSTED_PROXIES", default=0) > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS: plain HTTP redirected, browsers told to stay on HTTPS (HSTS, sent on HTTPS answers
# only), cookies over HTTPS only. The first two are switched on by the production environment
# of docs/deploy.md (a server reached over plain HTTP, as the tests' are, must not redirect);
# `manage.py check --deploy` is clean with it (tests/test_production_settings.py).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Asking to be on the browsers' preload list is the domain owner's decision (hstspreload.org),
# not Accord's: off unless set, and check --deploy's reminder of it silenced.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The analytics' covering index (INCLUDE) is a plain index on SQLite, which is what the
    # embedded default needs: no warning at each migrate.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content-Security-Policy (django-csp): scripts, styles, images and fonts from Accord's own
# origin only, so an injected <script>, on*= attribute or style="" does nothing; no page has
# any inline script or style (tests/test_csp.py checks the templates, and a browser the pages).


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: what a CSP source list names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# The log-out goes on to ProConnect's end_session when single sign-on is on.
FORM_TARGETS_ELSEWHERE = [origin_of(ACCORD_OIDC_END_SESSION_ENDPOINT)] * ACCORD_OIDC_ENABLED
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: images: the authenticator's QR code (an SVG drawn by the server) and the
        # administration's icons; an image runs no script.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # fetch and the WebSocket (same host and port)
        "object-src": [NONE],
        "base-uri": [NONE],
        # Forms post to Accord (a redirect after a form is held to this directive too).
        "form-action": [
            SELF,
            *([origin_of(ACCORD_OIDC_END_SESSION_ENDPOINT)] * ACCORD_OIDC_ENABLED),
        ],
        "frame-ancestors": [NONE],
    }
}

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "not authenticated" into a 401
    # (DRF answers 403 when the first class has none). Session authentication enforces CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's own, the browsable API without the inline <style> the CSP refuses.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "workflows.api.renderers.BrowsableAPIRenderer",
    ],
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

# --- Operations: request ids, logs, metrics, health (docs/operations.md) -------------------
DJANGO_GUID = {
    # The proxy's request id when it sends one (a UUID), else a new one; in the response too.
    "GUID_HEADER_NAME": "X-Request-ID",
    "IGNORE_URLS": ["sante", "sante/complete", "metrics"],
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=True)],
}
# "json": one JSON object per line (for a log collector), the default in production;
# "text": lines for a person at a console, the default elsewhere.
ACCORD_LOG_FORMAT = env.str("ACCORD_LOG_FORMAT", default="json" if PRODUCTION else "text")
if ACCORD_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured('ACCORD_LOG_FORMAT must be "json" or "text".')
# /metrics answers a scraper presenting this token (Authorization: Bearer ...); without it
# the metrics are off (404).
ACCORD_METRICS_TOKEN = env.str("ACCORD_METRICS_TOKEN", default="")
# How long pg_dump / pg_restore may take (manage.py backup / restore), in seconds.
ACCORD_BACKUP_TIMEOUT = env.int("ACCORD_BACKUP_TIMEOUT", default=3600)
# What the health endpoints wait for each service, in seconds.
ACCORD_HEALTH_TIMEOUT = env.float("ACCORD_HEALTH_TIMEOUT", default=2.0)

# The public archives a signed contract is transferred to (SEDA 2.2, workflows/audit/archive.py;
# docs/deploy.md, "Public archives"): the agencies' identifiers as the archives know them, and
# the identifiers of the management rules in the archival agency's own rule repository.
ACCORD_ARCHIVAL_AGENCY_ID = env.str("ACCORD_ARCHIVAL_AGENCY_ID", default="FRAD000")
ACCORD_ARCHIVAL_AGENCY_NAME = env.str(
    "ACCORD_ARCHIVAL_AGENCY_NAME", default="Service d'archives compétent"
)
ACCORD_TRANSFERRING_AGENCY_ID = env.str("ACCORD_TRANSFERRING_AGENCY_ID", default="ACCORD")
ACCORD_TRANSFERRING_AGENCY_NAME = env.str(
    "ACCORD_TRANSFERRING_AGENCY_NAME", default="Coordination du contrat (Accord)"
)
ACCORD_ARCHIVAL_AGREEMENT = env.str("ACCORD_ARCHIVAL_AGREEMENT", default="")
ACCORD_ARCHIVE_APPRAISAL_RULE = env.str("ACCORD_ARCHIVE_APPRAISAL_RULE", default="APP-10-ANS")
ACCORD_ARCHIVE_APPRAISAL_FINAL_ACTION = env.str(
    "ACCORD_ARCHIVE_APPRAISAL_FINAL_ACTION", default="Keep"
)
if ACCORD_ARCHIVE_APPRAISAL_FINAL_ACTION not in ("Keep", "Destroy"):
    raise ImproperlyConfigured("ACCORD_ARCHIVE_APPRAISAL_FINAL_ACTION: Keep or Destroy.")
ACCORD_ARCHIVE_ACCESS_RULE = env.str("ACCORD_ARCHIVE_ACCESS_RULE", default="ACC-IMMEDIAT")
ACCORD_ARCHIVE_PRIVATE_ACCESS_RULE = env.str(
    "ACCORD_ARCHIVE_PRIVATE_ACCESS_RULE", default="ACC-50-ANS"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_guid.log_filters.CorrelationId"},
        "celery_task": {"()": "django_guid.integrations.celery.log_filters.CeleryTracing"},
    },
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"
            " %(celery_parent_id)s %(process)d",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "celery_task"],
            "formatter": ACCORD_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # Tasks run in-process on the embedded default: a line per task run would bury the
    # console (the demo's launch alone sends 76 e-mails); a worker logs them as usual.
    "loggers": {
        # fontTools reports each table it prunes when fpdf2 embeds a font's used glyphs.
        "fontTools": {"level": "WARNING"},
        # django-guid says at INFO each id it makes and clears: a line per request and task.
        "django_guid": {"level": "WARNING"},
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

# DejaVu Sans for the contract documents, so that every name prints (signatures/document.py).
ACCORD_PDF_FONT_DIR = env.str("ACCORD_PDF_FONT_DIR", default="/usr/share/fonts/truetype/dejavu")
# Encrypts the signing keys at rest (Fernet key derived from it). Required once DATABASE_URL
# is set; checked when a key is first used, so that commands needing no key run without it.
# Rotation: the new key in ACCORD_SIGNING_KEY, the old ones (comma-separated) in
# ACCORD_SIGNING_KEY_PREVIOUS, then `manage.py rotate_signing_key` (docs/security.md).
ACCORD_SIGNING_KEY = env.str("ACCORD_SIGNING_KEY", default="")
ACCORD_SIGNING_KEY_PREVIOUS = env.list("ACCORD_SIGNING_KEY_PREVIOUS", default=[])
SIGNING_KEY_MIN_LENGTH = 32


def signing_key_weakness(key: str) -> str:
    """Why ``key`` may not encrypt production's signing keys ("" when it may): as the secret
    key's rule, with 32 characters at least (a Fernet key is 32 bytes)."""
    if len(key) < SIGNING_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SIGNING_KEY_MIN_LENGTH}"
    if len(set(key)) < 10:
        return f"it has only {len(set(key))} different characters, fewer than 10"
    if key == EMBEDDED_SECRET_KEY:
        return "it is a published default"
    return ""


# Unset, the system check signatures.E001 stops migrate and check; set, it must be strong:
# it is all that stands between a copy of the database and every signing key.
if PRODUCTION and ACCORD_SIGNING_KEY and (weakness := signing_key_weakness(ACCORD_SIGNING_KEY)):
    raise ImproperlyConfigured(
        f"ACCORD_SIGNING_KEY is too weak for production: {weakness}. Generate one with"
        " `python3 -c 'import secrets; print(secrets.token_urlsafe(50))'` and rotate to it"
        " (docs/security.md)."
    )
if not ACCORD_SIGNING_KEY and (DEBUG or EMBEDDED):
    ACCORD_SIGNING_KEY = EMBEDDED_SECRET_KEY
# Long-term validation (docs/security.md): an outside RFC 3161 time-stamping authority, the
# PEM file of its root certificates, and how long each call to it may take; empty: Accord's
# own time-stamping service.
ACCORD_TSA_URL = env.str("ACCORD_TSA_URL", default="")
ACCORD_TSA_ROOTS = env.str("ACCORD_TSA_ROOTS", default="")
ACCORD_TSA_TIMEOUT = env.float("ACCORD_TSA_TIMEOUT", default=10.0)
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
    "visa": env.int("ACCORD_VISA_DAYS", default=10),
    "opinion": env.int("ACCORD_OPINION_DAYS", default=7),
}

# What the other apps do about what the domain records, in this order, in the recording
# transaction (workflows.history.UnitOfWork.finish): whoever a change concerns is told, the
# people asked to sign have their certificates issued after the commit (by the worker), then a
# fully signed contract is sealed (its certificate covers who was told of the last signature).
ACCORD_REACTIONS = [
    "notifications.reactions.notify_recorded",
    "signatures.reactions.issue_signers_certificates",
    "signatures.reactions.seal_signed_contract",
]
# Where the signed daily head files of the histories are written (workflows.anchors): keep this
# folder out of the database's reach and in the backups; an auditor can copy it anywhere.
ACCORD_ANCHORS_DIR = Path(env.str("ACCORD_ANCHORS_DIR", default=str(VAR_DIR / "anchors")))
# Who signs those files with Accord's seal and reads the head the seal certified on each
# completion certificate, for the domain (workflows.anchors).
ACCORD_HISTORY_SEAL = "signatures.anchors.SealedHeads"
# Who draws up, signs and voids the contract document for the domain (workflows.documents).
ACCORD_CONTRACT_DOCUMENTS = "signatures.services.PdfContractDocuments"
# Who draws up a year's annual report for the domain (workflows.documents).
ACCORD_ANNUAL_REPORTS = "signatures.reports.PdfAnnualReports"
# Who draws up an amendment's document for the domain (workflows.documents).
ACCORD_AMENDMENT_DOCUMENTS = "signatures.amendments.PdfAmendmentDocuments"
# Who draws up and signs a committee vote's minutes for the domain (workflows.documents).
ACCORD_COMMITTEE_MINUTES = "signatures.minutes.PdfCommitteeMinutes"
