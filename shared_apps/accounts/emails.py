"""Account emails (verification, already registered, set/reset password), sent after commit,
off the request."""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from .links import email_link, public_url
from .models import User
from .tokens import email_verification_token, password_token, uid_for

logger = logging.getLogger(__name__)


# Emails leave on a background thread: a request answers as fast whether or not it sent one
# (so response times never tell who has an account), and a slow mail server never holds a
# request. A worker killed while sending can drop an email; the background-jobs queue
# takes this over when it exists.
_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="email")


def _render_and_send(*, to: str, template: str, context: dict) -> None:
    try:
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}.txt", context)
        send_mail(subject, body, None, [to])
    except Exception:  # noqa: BLE001 - the request is long answered: log, do not raise
        logger.exception("Could not send %s to %s", template.rsplit("/", 1)[-1], to)
        return
    logger.info("Sent %s to %s", template.rsplit("/", 1)[-1], to)


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render `<template>_subject.txt` and `<template>.txt` and send them once the
    transaction commits (a rolled-back request sends nothing), on the background sender
    unless settings.EMAIL_IN_BACKGROUND is off. `context` must not need the database."""
    context = {
        "site_url": public_url(),
        "link_valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        **context,
    }

    def send():
        if settings.EMAIL_IN_BACKGROUND:
            _sender.submit(_render_and_send, to=to, template=template, context=context)
        else:
            _render_and_send(to=to, template=template, context=context)

    transaction.on_commit(send, robust=True)


def send_verification_email(user: User) -> None:
    link = email_link(
        "verify-email", uidb64=uid_for(user), token=email_verification_token.make_token(user)
    )
    send_templated_email(
        to=user.email, template="accounts/emails/verify_email", context={"user": user, "link": link}
    )


def send_already_registered_email(user: User) -> None:
    link = email_link("set-password", uidb64=uid_for(user), token=password_token.make_token(user))
    send_templated_email(
        to=user.email,
        template="accounts/emails/already_registered",
        context={"user": user, "link": link},
    )


def send_password_email(user: User, *, reason: str = "") -> None:
    """A link to set a password: a reset for users who have one, a first password otherwise.
    `reason` says why the person gets it (e.g. the organization they were made ADMIN of)."""
    link = email_link("set-password", uidb64=uid_for(user), token=password_token.make_token(user))
    send_templated_email(
        to=user.email,
        template="accounts/emails/set_password",
        context={
            "user": user,
            "link": link,
            "reason": reason,
            "first_password": not user.has_usable_password(),
        },
    )
