"""``ff projects ...`` and ``ff segments ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from ff_core.admin import library_actor
from ff_core.cli_support import JsonOpt, NoteOpt, ProjectOpt, _print, _run, checked
from ff_core.models import Environment, Project, Segment
from ff_core.models.project import DEFAULT_ENVIRONMENTS
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.validation import validated

projects_app = typer.Typer(help="Projects and their environments.", no_args_is_help=True)
segments_app = typer.Typer(help="Segments: reusable audiences.", no_args_is_help=True)


def _environment(key: str, name: str | None = None) -> Environment:
    return validated(lambda: Environment(key=key, name=name or key.capitalize()), "environment")


def describe_project(project: Project) -> tuple[str, list[list[str]]]:
    lines = [
        f"{project.key}: {project.name}",
        f"  registry enforced: {'yes' if project.registry_enforced else 'no'}   "
        f"tenant attribute: {project.tenant_attribute}   version {project.version}",
    ]
    if project.description:
        lines.insert(1, f"  {project.description}")
    rows = [["ENVIRONMENT", "NAME"]] + [[e.key, e.name] for e in project.environments]
    return "\n".join(lines), rows


@projects_app.command("list")
def projects_list(as_json: JsonOpt = False) -> None:
    """Every project in the table."""
    projects = _run(lambda s, _: s.projects.list_projects())
    rows = [["KEY", "NAME", "ENVIRONMENTS"]] + [
        [p.key, p.name, ",".join(p.environment_keys())] for p in projects
    ]
    _print([p.model_dump(mode="json") for p in projects], as_json, rows)


@projects_app.command("get")
def projects_get(
    key: Annotated[str | None, typer.Argument(help="Default: FF_DEFAULT_PROJECT")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One project: its settings and environments."""
    project = _run(lambda s, st: s.projects.get_project(key or st.default_project))
    title, rows = describe_project(project)
    _print(project.model_dump(mode="json"), as_json, rows, title=title)


@projects_app.command("create")
def projects_create(
    key: str,
    name: Annotated[str | None, typer.Option(help="Default: the key")] = None,
    description: Annotated[str, typer.Option()] = "",
    environments: Annotated[
        str, typer.Option(help="Comma-separated environment keys, in display order")
    ] = ",".join(DEFAULT_ENVIRONMENTS),
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a project. Then `ff members add EMAIL --role owner -p KEY` makes its first owner."""
    wanted = [e.strip() for e in environments.split(",") if e.strip()]
    project = checked(
        lambda: Project(
            key=key,
            name=name or key,
            description=description,
            environments=tuple(_environment(e) for e in wanted),
        ),
        "project",
    )

    async def work(services: Services, settings: Settings) -> Project:
        return await services.projects.create_project(library_actor(), project, note=note)

    created = _run(work)
    _print(
        created.model_dump(mode="json"),
        as_json,
        title=f"created project {created.key} ({', '.join(created.environment_keys())})",
    )


@projects_app.command("set")
def projects_set(
    key: Annotated[str | None, typer.Argument(help="Default: FF_DEFAULT_PROJECT")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    tenant_attribute: Annotated[
        str | None, typer.Option(help="The context attribute that names a tenant")
    ] = None,
    registry_enforced: Annotated[
        bool | None,
        typer.Option(
            "--registry-enforced/--no-registry-enforced",
            help="Refuse writes to flags the registry does not list (`ff registry sync` "
            "turns it on)",
        ),
    ] = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Change a project's settings; nothing is written when nothing changes."""
    wanted = {
        "name": name,
        "description": description,
        "tenant_attribute": tenant_attribute,
        "registry_enforced": registry_enforced,
    }
    changes = {k: v for k, v in wanted.items() if v is not None}
    if not changes:
        raise typer.BadParameter("give at least one setting to change")

    async def work(services: Services, settings: Settings) -> Project:
        target = key or settings.default_project
        return await services.projects.update_project(library_actor(), target, changes, note=note)

    updated = _run(work)
    title, rows = describe_project(updated)
    _print(updated.model_dump(mode="json"), as_json, rows, title=title)


@projects_app.command("add-environment")
def projects_add_environment(
    environment: str,
    name: Annotated[str | None, typer.Option(help="Default: the key, capitalised")] = None,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Add an environment to a project; existing flags start disabled there."""

    added = checked(lambda: _environment(environment, name), "environment")

    async def work(services: Services, settings: Settings) -> Project:
        return await services.projects.add_environment(
            library_actor(), project or settings.default_project, added, note=note
        )

    updated = _run(work)
    _print(
        updated.model_dump(mode="json"),
        as_json,
        title=f"{updated.key}: environments {', '.join(updated.environment_keys())}",
    )


def segment_rows(segments: list[Segment]) -> list[list[str]]:
    rows = [["KEY", "NAME", "RULES", "INCLUDED", "EXCLUDED", "VERSION"]]
    rows += [
        [
            s.key,
            s.name,
            str(len(s.rules)),
            str(len(s.included)),
            str(len(s.excluded)),
            str(s.version),
        ]
        for s in segments
    ]
    return rows


@segments_app.command("list")
def segments_list(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """The segments of a project."""
    segments = _run(lambda s, st: s.segments.list_segments(project or st.default_project))
    _print([s.model_dump(mode="json") for s in segments], as_json, segment_rows(segments))


@segments_app.command("get")
def segments_get(key: str, project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """One segment: its keys and rules."""
    segment = _run(lambda s, st: s.segments.get_segment(project or st.default_project, key))
    lines = [f"{segment.key}: {segment.name}"]
    if segment.description:
        lines.append(f"  {segment.description}")
    lines.append(f"  matched on: {segment.key_attribute}   version {segment.version}")
    lines.append(f"  included: {', '.join(segment.included) or '-'}")
    lines.append(f"  excluded: {', '.join(segment.excluded) or '-'}")
    rows = [["RULE", "CLAUSES (all must match)"]] + [
        [
            str(i),
            " and ".join(
                f"{c.attribute} {'not ' if c.negate else ''}{c.operator.value} {list(c.values)}"
                for c in rule.clauses
            ),
        ]
        for i, rule in enumerate(segment.rules, 1)
    ]
    _print(
        segment.model_dump(mode="json"),
        as_json,
        rows if segment.rules else None,
        title="\n".join(lines),
    )
