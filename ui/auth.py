"""Who may use the app, and which API token it sends for them (issue 12: the app was open to
the network with the API token it holds).

`gate()` runs first in every script run, before any API call:

- **Sign-in configured: always asked.**
  - OIDC — an `[auth]` section in `st.secrets` (Streamlit's `st.login`). Signing in says who
    the person is; `[api_tokens]` in the secrets (e-mail → API token) says who may come in and
    which token the app sends for them. A signed-in person without an entry is refused.
  - Else a password — `APP_PASSWORD` (environment, else secrets), compared in constant time;
    then the app sends `API_TOKEN`. With `ENVIRONMENT=production` a placeholder or a password
    under 12 characters is refused: the app does not start.
- **Nothing configured: only on this machine.** Bound to loopback (`server.address` 127.0.0.1,
  as `market-structure up`/`ui` and `.streamlit/config.toml` set it) and reached from this
  machine (no proxy headers, a loopback peer and Host), the app sends `API_TOKEN`. Anywhere
  else it shows only a page that says how to set up sign-in, and calls nothing.

The token a session may send lives in its own session state (`session_token`); an anonymous
visitor never gets one.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import ipaddress
import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from ui.api_client import api_token, setting
from ui.formatting import escape_markdown
from ui.state import AUTH_FAILED as FAILED
from ui.state import AUTH_PASSWORD_OK as PASSWORD_OK
from ui.state import AUTH_TOKEN as TOKEN
from ui.state import AUTH_WHO as WHO

PLACEHOLDER_PASSWORDS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "password",
        "secret",
        "admin",
        "example",
        "test",
        "letmein",
        "market-structure",
    }
)
MIN_PASSWORD_LENGTH = 12
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
SIGN_IN_DOCS = "docs/streamlit-cloud.md"


# -- where the app is reachable ----------------------------------------------------------------


def is_loopback(host: str | None) -> bool:
    """Whether `host` (an address or name, maybe with a port or [brackets]) is this machine only.
    An empty address means every interface."""
    value = (host or "").strip().lower()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    if value == "localhost" or value.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False


def bind_address() -> str:
    """The interface this Streamlit server listens on ("" is every interface)."""
    return str(st.get_option("server.address") or "")


def _headers() -> Mapping[str, str]:
    try:
        return {k.lower(): v for k, v in st.context.headers.items()}
    except Exception:  # no browser session (bare script)
        return {}


def reached_from_elsewhere() -> bool:
    """Whether this browser session came from another machine or through a proxy."""
    headers = _headers()
    if any(name in headers for name in FORWARDING_HEADERS):
        return True
    host = headers.get("host")
    if host and not is_loopback(host):
        return True
    try:
        peer = st.context.ip_address
    except Exception:
        peer = None
    return peer is not None and not is_loopback(peer)


def exposed() -> bool:
    """Whether people other than this machine's can reach the app."""
    return not is_loopback(bind_address()) or reached_from_elsewhere()


# -- what is configured ------------------------------------------------------------------------


def _secret(name: str) -> Any:
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets file
        return None


def oidc_providers() -> list[str | None]:
    """The OIDC providers `[auth]` configures: None for the unnamed one, else the names of its
    `[auth.<name>]` sections. Empty when OIDC is not configured."""
    auth = _secret("auth")
    if not isinstance(auth, Mapping) or not auth:
        return []
    if "client_id" in auth:
        return [None]
    return [str(k) for k, v in auth.items() if isinstance(v, Mapping) and "client_id" in v]


def app_password() -> str | None:
    return setting("APP_PASSWORD")


def production() -> bool:
    return (setting("ENVIRONMENT") or "development").lower() == "production"


def password_problem(password: str) -> str | None:
    """Why this APP_PASSWORD is refused in production, None if it is fine."""
    if not production():
        return None
    if password.lower() in PLACEHOLDER_PASSWORDS or len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"APP_PASSWORD holds a placeholder or is shorter than {MIN_PASSWORD_LENGTH} "
            "characters; in production use a random one, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(18))"`.'
        )
    return None


def password_matches(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths (digests are compared, not the texts)."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def token_for(email: str | None) -> str | None:
    """The API token `[api_tokens]` gives this e-mail address (case does not matter)."""
    tokens = _secret("api_tokens")
    if not email or not isinstance(tokens, Mapping):
        return None
    wanted = email.strip().lower()
    for address, token in tokens.items():
        if str(address).strip().lower() == wanted and str(token).strip():
            return str(token).strip()
    return None


def session_token() -> str | None:
    """The token this browser session may send: what `gate()` granted it, else nothing."""
    value = st.session_state.get(TOKEN)
    return str(value) if value else None


# -- the gate ----------------------------------------------------------------------------------


def gate() -> None:
    """Let this session in (its token set), or draw the sign-in or refusal page and stop."""
    st.session_state[TOKEN] = None
    if providers := oidc_providers():
        _oidc(providers)
    elif (password := app_password()) is not None:
        _password(password)
    elif exposed():
        _refuse()
    else:
        st.session_state[TOKEN] = api_token()


def _page(title: str) -> None:
    st.title(title)


def _refuse() -> None:
    where = bind_address() or "every interface"
    _page("Sign-in needed")
    st.error(
        f"This app can be reached from other machines (it listens on {escape_markdown(where)}), "
        "and it would act for every visitor with the analysis service's token. It stays "
        "closed until sign-in is set up.",
        icon=":material/lock:",
    )
    st.markdown(
        "Either:\n\n"
        "- **Sign in with your organisation's accounts** (OpenID Connect): add an `[auth]` "
        "section to the app's secrets, and `[api_tokens]` mapping each person's e-mail to "
        "their API token; or\n"
        "- **A password**: set `APP_PASSWORD` in the app's environment or secrets (with "
        "`API_TOKEN` for the analysis service).\n\n"
        "Or run it on this machine only: `market-structure ui` listens on 127.0.0.1. "
        f"How to: `{SIGN_IN_DOCS}`."
    )
    st.stop()


def _signed_in(who: str, sign_out: Any) -> None:
    with st.sidebar:
        st.caption(f":material/account_circle: Signed in as {escape_markdown(who)}")
        st.button("Sign out", icon=":material/logout:", on_click=sign_out, key="auth.sign_out")


def _forget_password() -> None:
    for key in (PASSWORD_OK, WHO, TOKEN):
        st.session_state.pop(key, None)


def _password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        _page("The app is not set up")
        st.error(problem, icon=":material/lock:")
        st.stop()
    if st.session_state.get(PASSWORD_OK):
        st.session_state[TOKEN] = api_token()
        _signed_in("the team password", _forget_password)
        return
    _page("Market Structure")
    with st.form("auth.sign_in"):
        st.markdown("**Sign in** with the app's password.")
        given = st.text_input("Password", type="password", key="auth.password")
        submitted = st.form_submit_button("Sign in", icon=":material/login:", type="primary")
    if submitted:
        if password_matches(given or "", password):
            st.session_state[PASSWORD_OK] = True
            st.session_state.pop(FAILED, None)
            st.rerun()
        failed = int(st.session_state.get(FAILED, 0)) + 1
        st.session_state[FAILED] = failed
        time.sleep(min(0.5 * failed, 5.0))  # each wrong guess in a session waits longer
        st.error("That password is not right.", icon=":material/error:")
    st.stop()


def _oidc(providers: list[str | None]) -> None:
    if not st.user.get("is_logged_in"):
        _page("Market Structure")
        st.markdown("**Sign in** with your organisation's account to use the app.")
        if importlib.util.find_spec("authlib") is None:
            st.error(
                "Sign-in needs the Authlib package (`pip install Authlib`); it is in "
                "ui/requirements.txt.",
                icon=":material/error:",
            )
            st.stop()
        for provider in providers:
            label = f"Sign in with {provider}" if provider else "Sign in"
            if st.button(
                label, icon=":material/login:", type="primary", key=f"auth.login.{provider}"
            ):
                st.login(provider)
        st.stop()
    email = st.user.get("email")
    token = token_for(str(email) if email else None)
    if st.user.get("email_verified") is False or token is None:
        _page("No access")
        st.error(
            f"You are signed in as {escape_markdown(email or 'an account without an e-mail')}"
            ", but this app has no API token for that account. Ask whoever runs it to add "
            "your e-mail under `[api_tokens]` in its secrets.",
            icon=":material/block:",
        )
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)
        st.stop()
    st.session_state[TOKEN] = token
    st.session_state[WHO] = str(email)
    _signed_in(str(email), st.logout)
