"""Who is signed in, which project and environment they look at, and the shell's lists."""

from __future__ import annotations

from urllib.parse import urlencode

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.state.guard import session_of
from ff_core.errors import FFError
from ff_core.models import Role


class SessionState(rx.State):
    email: str = ""
    name: str = ""
    project: str = ""
    environment: str = ""
    role: str = ""
    # [{"key", "name", "role"}] for the project switcher
    projects: list[dict[str, str]] = []
    environments: list[str] = []
    problem: str = ""

    @rx.var
    def can_edit(self) -> bool:
        return self.role in (Role.EDITOR, Role.ADMIN, Role.OWNER)

    @rx.var
    def can_admin(self) -> bool:
        return self.role in (Role.ADMIN, Role.OWNER)

    @rx.event
    async def load(self) -> EventSpec | None:
        """on_load of every signed-in page: resolve the session, project and environment."""
        params = self.router.url.query_parameters
        try:
            session = await session_of(self)
        except FFError:
            self.email = ""
            here = self.router.url.path + (
                f"?{self.router.url.query}" if self.router.url.query else ""
            )
            return rx.redirect("/signin?" + urlencode({"next": here}))
        self.email, self.name = session.email, session.name or ""
        backend = current()
        memberships = await backend.store.list_memberships(session.email)
        projects = {m.project: m.role for m in memberships}
        self.projects = [
            {"key": p.key, "name": p.name, "role": projects[p.key].value}
            for p in await backend.services.projects.list_projects()
            if p.key in projects
        ]
        wanted = params.get("p", "")
        if wanted not in projects:
            self.project = self.role = ""
            self.environments = []
            if not wanted and self.projects:
                return rx.redirect(f"/flags?p={self.projects[0]['key']}")
            self.problem = (
                f"project {wanted!r} not found"
                if wanted
                else "you are not a member of any project yet"
            )
            return None
        self.problem = ""
        self.project, self.role = wanted, projects[wanted].value
        project = await backend.services.projects.get_project(wanted)
        self.environments = project.environment_keys()
        env = params.get("env", "")
        self.environment = env if env in self.environments else self.environments[0]
        return None

    @rx.event
    def switch_project(self, project: str) -> EventSpec:
        return rx.redirect(f"/flags?p={project}")

    @rx.event
    def switch_environment(self, environment: str) -> EventSpec:
        params = dict(self.router.url.query_parameters)
        params["env"] = environment
        params.pop("page", None)
        return rx.redirect(f"{self.router.url.path}?{urlencode(params)}")
