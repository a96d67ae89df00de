"""Signing in to the dashboard: OIDC or dev sign-in routes, and the session cookie."""

from ff_admin.auth.routes import SignInHook, SignOutHook, build_auth_app, safe_next
from ff_admin.auth.session import Session, issue_session, session_from_cookie_header

__all__ = [
    "Session",
    "SignInHook",
    "SignOutHook",
    "build_auth_app",
    "issue_session",
    "safe_next",
    "session_from_cookie_header",
]
