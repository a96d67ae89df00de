"""The demo project a local install starts with, and the benchmarks' representative flag."""

from __future__ import annotations

from ff_core.errors import NotFound
from ff_core.models import (
    Actor,
    ActorKind,
    Clause,
    EnvironmentConfig,
    Flag,
    FlagKind,
    Operator,
    Project,
    Rollout,
    Rule,
    Segment,
    Serve,
    Target,
    ValueType,
    Variant,
    WeightedVariant,
    boolean_variants,
)
from ff_core.services import Services

DEMO_PROJECT = "demo"
SYSTEM = Actor(kind=ActorKind.SYSTEM, subject="ff-demo-seed")


def split(first: str, first_weight: int, second: str) -> Serve:
    return Serve(
        rollout=Rollout(
            variants=(
                WeightedVariant(variant=first, weight=first_weight),
                WeightedVariant(variant=second, weight=100_000 - first_weight),
            )
        )
    )


def representative_config(enabled: bool = True) -> EnvironmentConfig:
    """``country in [US, CA] AND plan == pro`` serves on; everyone else a 25 % rollout."""
    return EnvironmentConfig(
        enabled=enabled,
        off_variant="off",
        rules=(
            Rule(
                id="na-pro",
                description="Pro customers in North America",
                clauses=(
                    Clause(attribute="country", operator=Operator.IN, values=("US", "CA")),
                    Clause(attribute="plan", operator=Operator.EQ, values=("pro",)),
                ),
                serve=Serve(variant="on"),
            ),
        ),
        fallthrough=split("on", 25_000, "off"),
    )


def representative_flag(key: str = "new-checkout", salt: str = "demo") -> Flag:
    return Flag(
        key=key,
        name="New checkout",
        description="The redesigned checkout flow",
        tags=("checkout", "web"),
        owner="payments",
        salt=salt,
        client_visible=True,
        variants=boolean_variants(),
        environments={"production": representative_config()},
    )


def demo_flags() -> list[Flag]:
    return [
        representative_flag(),
        Flag(
            key="banner-text",
            name="Banner text",
            kind=FlagKind.EXPERIMENT,
            value_type=ValueType.STRING,
            client_visible=True,
            variants={
                "control": Variant(value="Welcome back"),
                "friendly": Variant(value="Good to see you again!"),
            },
            environments={
                env: EnvironmentConfig(
                    enabled=True,
                    off_variant="control",
                    targets=(Target(variant="friendly", values=("alice", "bob")),),
                    fallthrough=split("friendly", 50_000, "control"),
                )
                for env in ("development", "staging", "production")
            },
        ),
        Flag(
            key="search.max-results",
            name="Search page size",
            kind=FlagKind.OPS,
            temporary=False,
            value_type=ValueType.NUMBER,
            variants={"small": Variant(value=20), "large": Variant(value=100)},
            environments={
                "production": EnvironmentConfig(
                    enabled=True,
                    off_variant="small",
                    rules=(
                        Rule(
                            clauses=(Clause(operator=Operator.IN_SEGMENT, values=("beta",)),),
                            serve=Serve(variant="large"),
                        ),
                    ),
                    fallthrough=Serve(variant="small"),
                )
            },
        ),
    ]


async def seed(services: Services) -> bool:
    """Create the demo project once; False when it exists already."""
    try:
        await services.projects.get_project(DEMO_PROJECT)
        return False
    except NotFound:
        pass
    await services.projects.create_project(
        SYSTEM, Project(key=DEMO_PROJECT, name="Demo"), idempotency_key="demo-project"
    )
    await services.segments.save_segment(
        SYSTEM,
        DEMO_PROJECT,
        Segment(key="beta", name="Beta testers", included=("alice", "carol")),
        idempotency_key="demo-segment-beta",
    )
    for flag in demo_flags():
        await services.flags.create_flag(
            SYSTEM, DEMO_PROJECT, flag, idempotency_key=f"demo-flag-{flag.key}"
        )
    return True
