"""Mail server failures as one line a clerk can act on: which server, what it said, and what
to check. The one place for these hints: the IMAP source, the SMTP transport and
``safetymonth check`` all use it.

Two kinds of failure matter to the caller. :class:`AccountError`: the server refused our login
(or our sender); retrying cannot help, and 163.com and 126.com lock an account after repeated
failures. :class:`ServerUnavailable`: the server could not be reached or dropped us; that is an
outage, retried with backoff.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from typing import Protocol

from imap_tools.errors import MailboxLoginError, UnexpectedCommandStatusError

LOGIN_HINT = ("the login was refused: check the user and the password in the environment "
              "variable {env}; for 163.com, 126.com and QQ Mail that is the client "
              "authorisation code (授权码), not the web password")
MISMATCH_HINT = ("port and security may not match (IMAP: 993 is ssl, 143 starttls; SMTP: 465 "
                 "is ssl, 587 starttls): check port and security")
CONNECT_TIMEOUT = 10.0  # seconds to connect, greet and log in: a port/security mismatch hangs


class Endpoint(Protocol):
    host: str
    port: int
    security: str
    password_env: str


class ServerError(Exception):
    """A mail server failed us; the message names it and says what to check (never the
    password)."""


class ServerUnavailable(ServerError):
    """Could not connect, timed out or was dropped: an outage, worth retrying later."""


class AccountError(ServerError):
    """The server refused our login or our sender: no retry helps until the configuration
    is fixed."""


def where(kind: str, endpoint: Endpoint) -> str:
    """``IMAP imap.163.com:993 (ssl)``."""
    return f"{kind} {endpoint.host}:{endpoint.port} ({endpoint.security})"


def reason(error: BaseException) -> str:
    """The first line of what went wrong (the underlying error's, when wrapped)."""
    cause = error.__cause__ or error
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror  # "Connection refused", without "[Errno 111]"
    if isinstance(cause, UnexpectedCommandStatusError):  # the server's answer, e.g.
        status, data = cause.command_result  # NO [AUTHENTICATIONFAILED] Authentication failed.
        lines = data if isinstance(data, list) else [data]
        text = " ".join([str(status), *(line.decode("utf-8", "replace")
                                        for line in lines if isinstance(line, bytes))])
        return text[:200]
    text = str(cause).strip()
    return (text.splitlines()[0] if text else type(cause).__name__)[:200]


def hint(error: BaseException, endpoint: Endpoint) -> str:
    """What to check, from what failed."""
    cause = error.__cause__ if isinstance(error, ServerUnavailable) and error.__cause__ \
        else error  # ours wraps the library's: the hint comes from what the library saw
    if isinstance(cause, ssl.SSLCertVerificationError):
        return ("the server's certificate is not trusted: set ca_file to the certificate "
                "(PEM) of the authority that signed it")
    if isinstance(cause, ConnectionRefusedError):
        return "nothing listens there: check host and port"
    if isinstance(cause, socket.gaierror):
        return "the host name is not known: check host"
    if isinstance(cause, AccountError) and "offers no login" in str(cause):
        return MISMATCH_HINT
    if is_login_refusal(cause):
        return LOGIN_HINT.format(env=endpoint.password_env)
    return MISMATCH_HINT


def is_login_refusal(error: BaseException) -> bool:
    """A refused login, whichever library said so (imap-tools, imaplib, smtplib, ours)."""
    return isinstance(error, AccountError | MailboxLoginError |
                      smtplib.SMTPAuthenticationError)


def unavailable(kind: str, endpoint: Endpoint, error: BaseException) -> ServerUnavailable:
    """A :class:`ServerUnavailable` for ``error`` (raise it ``from error``)."""
    return ServerUnavailable(f"{where(kind, endpoint)}: {reason(error)}; "
                             f"{hint(error, endpoint)}")


def login_refused(kind: str, endpoint: Endpoint, user: str, error: BaseException) -> AccountError:
    """An :class:`AccountError` for a refused login of ``user``."""
    return AccountError(f"{where(kind, endpoint)} refused the login of {user}: {reason(error)}; "
                        f"{LOGIN_HINT.format(env=endpoint.password_env)}")


# What a mail server or the network can throw at us mid-session, unwrapped.
RAW_ERRORS = (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort, smtplib.SMTPException)
