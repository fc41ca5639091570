"""Reading account emails the way a person does: who got one, and the link it carries."""

import re

from django.core import mail
from django.test import Client

PASSWORD = "correct-horse-battery-staple"
OTHER_PASSWORD = "tangerine-lighthouse-orbit-42"

# The pages this site serves on the base host when no FRONTEND_URL is configured.
VERIFY_LINK = re.compile(
    r"http://localhost:8000/accounts/verify-email/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
)
SET_PASSWORD_LINK = re.compile(
    r"http://localhost:8000/accounts/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
)


def only_email_to(address: str) -> mail.EmailMessage:
    """The one email sent so far, after checking it went to `address` alone."""
    assert len(mail.outbox) == 1, [(m.to, m.subject) for m in mail.outbox]
    (message,) = mail.outbox
    assert message.to == [address]
    return message


def link_in(message: mail.EmailMessage, pattern: re.Pattern) -> dict[str, str]:
    """`{"uid", "token", "path"}` of the one link matching `pattern` in the email's body."""
    matches = list(pattern.finditer(message.body))
    assert len(matches) == 1, message.body
    (match,) = matches
    return {
        "uid": match["uid"],
        "token": match["token"],
        "path": match[0].removeprefix("http://localhost:8000"),
    }


def verify_link_to(address: str) -> dict[str, str]:
    """The verification link of the one email sent, to `address`."""
    return link_in(only_email_to(address), VERIFY_LINK)


def set_password_link_to(address: str) -> dict[str, str]:
    """The set-password link of the one email sent, to `address`."""
    return link_in(only_email_to(address), SET_PASSWORD_LINK)


def open_verify_link(browser: Client, path: str):
    """Open the verification link in `browser` as a person does: the page keeps the token in
    the session and redirects (302) to a URL without it. `(form_url, page)`: where the
    browser ends up (the form posts there, with the same browser), and the page shown."""
    page = browser.get(path, follow=True)
    assert [status for _, status in page.redirect_chain] == [302], page.redirect_chain
    ((form_url, _),) = page.redirect_chain
    return form_url, page
