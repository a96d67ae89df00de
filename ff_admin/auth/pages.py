"""The one page the sign-in routes render themselves: why signing in failed."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_TITLES = {
    400: "Sign-in failed",
    403: "Sign-in refused",
    404: "Not found",
    502: "Sign-in unavailable",
    503: "Sign-in unavailable",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · ff</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f7f9; color: #1c2024; margin: 0; }}
main {{ max-width: 32rem; margin: 15vh auto; padding: 2rem; background: #fff;
       border: 1px solid #e0e3e7; border-radius: 8px; }}
h1 {{ font-size: 1.25rem; margin-top: 0; }}
a {{ color: #0d74ce; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{message}</p>
<p><a href="/signin">Back to sign in</a></p>
</main>
</body>
</html>
"""


def error_page(message: str, status_code: int) -> HTMLResponse:
    title = _TITLES.get(status_code, "Sign-in failed")
    return HTMLResponse(
        _PAGE.format(title=escape(title), message=escape(message)),
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )
