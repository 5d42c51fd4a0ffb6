"""The password hasher: Argon2id at OWASP's parameters (docs/security.md, "Password hashing").

Django's own Argon2PasswordHasher asks for 100 MiB and 8 lanes per check: at a burst of
log-ins, 100 MiB each in a web process. OWASP's Password Storage Cheat Sheet's configuration
(m = 19 MiB, t = 2, p = 1) is memory-hard at a fraction of PBKDF2's CPU. The algorithm's name
is Django's (``argon2``): hashes made with other parameters (Django's) are checked, then
re-hashed with these at the next log-in, as PBKDF2's are (``must_update``)."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
