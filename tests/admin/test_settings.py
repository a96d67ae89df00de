"""The dashboard's settings: dev sign-in only on loopback, OIDC settings complete."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from ff_admin.settings import AdminSettings, AuthMode, check_dev_bind, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_is_loopback__loopback_hosts__true(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "dashboard.example.com"])
def test_check_dev_bind__dev_mode_beyond_loopback__refused(host: str) -> None:
    with pytest.raises(ValueError, match="only runs bound to loopback"):
        check_dev_bind(AdminSettings(admin_host=host))


def test_check_dev_bind__oidc_on_any_address__allowed() -> None:
    settings = AdminSettings(
        admin_host="0.0.0.0",
        auth=AuthMode.OIDC,
        oidc_issuer="https://issuer.example.com",
        oidc_client_id="ff",
        oidc_client_secret="s3cret",  # type: ignore[arg-type]
    )
    check_dev_bind(settings)


def test_settings__oidc_without_client__names_the_missing_variables() -> None:
    with pytest.raises(ValidationError, match="FF_OIDC_CLIENT_ID, FF_OIDC_CLIENT_SECRET"):
        AdminSettings(auth=AuthMode.OIDC, oidc_issuer="https://issuer.example.com")


def test_ff_dashboard__dev_mode_on_all_interfaces__exits_before_serving() -> None:
    env = {**os.environ, "FF_AUTH": "dev", "FF_ADMIN_HOST": "0.0.0.0"}
    done = subprocess.run(
        [sys.executable, "-m", "ff_admin.run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "only runs bound to loopback" in done.stderr
