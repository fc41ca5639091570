"""Password hashing: Argon2id sized so that concurrent logins fit a small worker."""

from django.contrib.auth import hashers


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Argon2id with 12 MiB, 3 passes and 1 lane: one of OWASP's recommended settings for
    Argon2id, in place of Django's 100 MiB and 8 lanes. Twenty logins at once then peak near
    260 MB of hashing memory, where Django's defaults took over 2 GB and exhausted a 512 MB
    worker (measured: docs/SECURITY.md).

    The algorithm's name is unchanged: stored hashes keep verifying with the parameters they
    carry, and a successful login rehashes one made with other parameters (`must_update`)."""

    time_cost = 3
    memory_cost = 12 * 1024  # KiB
    parallelism = 1
