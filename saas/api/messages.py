"""Error messages of the API plumbing: each says what is wrong and what is accepted."""

# Unknown API URLs answer like unknown objects (DRF's NotFound).
API_NOT_FOUND = "Not found."
ON_ORGANIZATION_HOST = (
    "Projects, tasks, members and invitations are served on each organization's own "
    "subdomain, <slug>.{base_domain}; GET /api/auth/me/ here lists your organizations."
)
ON_BASE_HOST = (
    "Accounts and organizations are served on the base host, {base_domain}: log in there with "
    "POST {base_domain}/api/auth/login/ (the token works on every organization's subdomain)."
)

BODY_TOO_LARGE = "The request body is larger than the limit of {limit} bytes."
# 429 (saas/api/throttling.py): "Too many password attempts for one email address: at most 10
# per 15 minutes. Try again in 840 seconds."
THROTTLED = "Too many {what}: at most {limit} per {period}. Try again in {wait} seconds."
TOO_MANY_FIELDS = "Too many query or form parameters: at most {limit} are accepted."
BAD_REQUEST = "Bad request."
JSON_TOO_DEEP = "JSON nested more than {limit} levels deep is not accepted."
JSON_SURROGATE = (
    "JSON strings must be valid Unicode: unpaired surrogate escapes (\\ud800-\\udfff) are "
    "not accepted."
)

INVALID_CURSOR = "Invalid cursor."
INVALID_DATE = "Not a valid date: use YYYY-MM-DD, e.g. 2026-03-31."
INVALID_BOOLEAN = '"%(value)s" is not accepted: use true or false.'
INVALID_DATETIME = (
    "Not a valid date-time: use ISO 8601, e.g. 2026-03-31, 2026-03-31T14:00:00Z or "
    "2026-03-31T16:00:00+02:00."
)
INVALID_USER_ID = 'Enter a user id or "me".'

# 503 while PostgreSQL is down, restarting or out of connections (saas/db/errors.py).
DATABASE_UNAVAILABLE = "The database is not answering right now: try again in a few seconds."
JOBS_UNAVAILABLE = (
    "Background jobs cannot be queued right now (the job queue does not answer), so nothing "
    "was created: try again in a minute."
)
