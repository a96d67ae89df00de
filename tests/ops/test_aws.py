"""deploy/: the CloudFormation template makes the table ff expects, and the IAM policy
grants exactly the DynamoDB actions the code calls. The template is deployed for real,
to moto's CloudFormation over HTTP, and the store then works on what it made."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from cfnlint import api as cfn_lint
from cfnlint.decode import cfn_yaml

from ff_core import demo
from ff_core.models import Actor, ActorKind, KeyKind, Role, UsageDelta
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS
from tests.ops.conftest import ROOT, free_port

TEMPLATE = ROOT / "deploy" / "cloudformation.yaml"
STORE = ROOT / "ff_core" / "store" / "dynamodb.py"
# Table administration (`ff table create`, not the running processes: the template or an
# operator with deploy/iam-table-admin-policy.json makes the table).
TABLE_ADMIN = {"create_table", "describe_table", "update_time_to_live", "get_waiter"}
# The embedded store's file (scan to save, batch write to load) on its own moto server.
EMBEDDED_ONLY = {"scan": "dump_items", "batch_write_item": "load_items"}
TRANSACTION_PARTS = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem"}
TRANSACTION_PARTS["ConditionCheck"] = "ConditionCheckItem"


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.loads(TEMPLATE.read_text())
    return loaded


def runtime_actions_in_code() -> set[str]:
    """The IAM actions of every DynamoDB call the store makes for a running process."""
    source = STORE.read_text()
    calls = set(re.findall(r"_client\.([a-z_]+)\(", source))
    actions = {
        "dynamodb:" + "".join(part.title() for part in call.split("_"))
        for call in calls - TABLE_ADMIN - set(EMBEDDED_ONLY) - {"transact_write_items"}
    }
    if "transact_write_items" in calls:  # authorised as its parts
        parts = set(re.findall(r'\{\s*"(Put|Delete|Update|ConditionCheck)":', source))
        actions |= {f"dynamodb:{TRANSACTION_PARTS[part]}" for part in parts}
    return actions


@pytest.fixture
def aws(moto_endpoint: str) -> dict[str, str]:
    key, secret = TEST_CREDENTIALS
    return {
        "endpoint_url": moto_endpoint,
        "region_name": "us-east-1",  # DynamoStore's region without FF_REGION
        "aws_access_key_id": key,
        "aws_secret_access_key": secret,
    }


@pytest.fixture
def stack(aws: dict[str, str]) -> Iterator[dict[str, str]]:
    """The template deployed; its outputs."""
    cloudformation = boto3.client("cloudformation", **aws)
    name = f"ff-{uuid.uuid4().hex[:12]}"
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "TableName", "ParameterValue": name}],
    )
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    yield {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    cloudformation.delete_stack(StackName=name)


def test_template__cfn_lint__no_error_or_warning() -> None:
    matches = cfn_lint.lint_all(TEMPLATE.read_text())

    # Informational rules (I*) are suggestions, not defects.
    assert [str(m) for m in matches if not m.rule.id.startswith("I")] == []


def test_template__table__on_demand_with_pitr_ttl_and_kept_on_stack_delete() -> None:
    table = template()["Resources"]["Table"]
    properties = table["Properties"]

    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


async def test_template__deployed__same_keys_indexes_and_ttl_as_ensure_table(
    stack: dict[str, str], aws: dict[str, str]
) -> None:
    dynamodb = boto3.client("dynamodb", **aws)
    reference = f"ff-ref-{uuid.uuid4().hex[:12]}"
    settings = Settings(dynamodb_endpoint=aws["endpoint_url"], table=reference)
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()
    shape = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")

    made = dynamodb.describe_table(TableName=stack["TableName"])["Table"]
    expected = dynamodb.describe_table(TableName=reference)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=reference)["TimeToLiveDescription"]

    assert {k: made.get(k) for k in shape} == {k: expected.get(k) for k in shape}
    assert made["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation does not apply TTL or PITR; the template's TTL attribute is
    # checked against the one ensure_table enables instead.
    spec = template()["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec["AttributeName"])
    assert stack["TableArn"] == made["TableArn"]


async def test_template__deployed__the_store_writes_and_reads_without_ensure_table(
    stack: dict[str, str], aws: dict[str, str]
) -> None:
    settings = Settings(dynamodb_endpoint=aws["endpoint_url"], table=stack["TableName"])
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        seeded = await demo.seed(Services(store))
        state = await store.load_project("demo")
        changes = await store.read_changes("demo", 0)

    assert seeded
    assert "new-checkout" in state.flags
    assert changes  # the change log (transactions with history and counter) works


def test_policy__actions__exactly_what_the_running_code_calls(
    stack: dict[str, str], aws: dict[str, str]
) -> None:
    iam = boto3.client("iam", **aws)
    policy = iam.get_policy(PolicyArn=stack["RuntimePolicyArn"])["Policy"]
    deployed = iam.get_policy_version(
        PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    standalone = json.loads((ROOT / "deploy" / "iam-policy.json").read_text())
    code = runtime_actions_in_code()

    for document in (deployed, standalone):
        (statement,) = document["Statement"]
        assert statement["Effect"] == "Allow"
        assert set(statement["Action"]) == code
    assert deployed["Statement"][0]["Resource"] == stack["TableArn"]  # this table only
    assert code >= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}


def test_policy__embedded_only_calls__used_by_the_embedded_store_alone() -> None:
    # Scan and BatchWriteItem stay out of the policy because only `ff serve` uses them.
    callers = {
        path.relative_to(ROOT).as_posix()
        for package in ("ff_core", "ff_api", "ff_admin")
        for path in (ROOT / package).rglob("*.py")
        if any(f".{method}(" in path.read_text() for method in EMBEDDED_ONLY.values())
    }
    admin = json.loads((ROOT / "deploy" / "iam-table-admin-policy.json").read_text())

    assert callers <= {"ff_core/cli.py", "ff_core/embedded.py"}
    assert set(admin["Statement"][0]["Action"]) == {
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTimeToLive",
    }


@pytest.fixture
def enforcing_moto() -> Iterator[str]:
    """A moto server of its own that checks signatures and IAM policies after its first
    few requests (INITIAL_NO_AUTH_ACTION_COUNT): enough to make a table and a user."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)  # the dashboard: not an AWS action
            break
        except httpx.TransportError:
            assert server.poll() is None, "moto's server did not start"
            assert time.monotonic() < deadline, "moto's server did not answer"
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)


async def test_policy__enforced__every_store_operation_works_and_nothing_else(
    enforcing_moto: str,
) -> None:
    root = {
        "endpoint_url": enforcing_moto,
        "region_name": "us-east-1",
        "aws_access_key_id": TEST_CREDENTIALS[0],
        "aws_secret_access_key": TEST_CREDENTIALS[1],
    }
    table = f"ff-{uuid.uuid4().hex[:12]}"
    resources = template()["Resources"]["Table"]["Properties"]
    # The four unauthenticated requests: the table as the template makes it, and a user
    # holding the runtime policy.
    boto3.client("dynamodb", **root).create_table(
        TableName=table,
        AttributeDefinitions=resources["AttributeDefinitions"],
        KeySchema=resources["KeySchema"],
        BillingMode=resources["BillingMode"],
    )
    iam = boto3.client("iam", **root)
    iam.create_user(UserName="ff-api")
    document = json.loads((ROOT / "deploy" / "iam-policy.json").read_text())
    # moto matches DynamoDB requests against Resource "*" only (it does not resolve the
    # table's ARN), so the actions are checked here and the ARN scoping statically above.
    # And moto authorises a transaction as the action TransactWriteItems, where AWS
    # authorises its parts (PutItem, DeleteItem: in the policy).
    document["Statement"][0]["Resource"] = "*"
    document["Statement"][0]["Action"].append("dynamodb:TransactWriteItems")
    iam.put_user_policy(
        UserName="ff-api", PolicyName="ff-runtime", PolicyDocument=json.dumps(document)
    )
    key = iam.create_access_key(UserName="ff-api")["AccessKey"]
    settings = Settings(dynamodb_endpoint=enforcing_moto, table=table)
    owner = Actor(kind=ActorKind.USER, subject="owner@example.com")

    async with DynamoStore.open(
        settings, credentials=(key["AccessKeyId"], key["SecretAccessKey"])
    ) as store:
        services = Services(store, key_secret=b"k" * 32)
        await demo.seed(services)
        created, _ = await services.access.create_key(
            owner, "demo", KeyKind.SERVER, "svc", environment="production"
        )
        await services.access.revoke_key(owner, "demo", created.id)
        await services.access.set_member(
            owner, "demo", "ed@example.com", Role.EDITOR, granted_by=Role.OWNER
        )
        await services.access.remove_member(owner, "demo", "ed@example.com", granted_by=Role.OWNER)
        invitation, _ = await services.access.invite(
            owner, "demo", "vi@example.com", Role.VIEWER, granted_by=Role.OWNER
        )
        await services.access.revoke_invitation(owner, "demo", invitation.id, granted_by=Role.OWNER)
        await store.record_usage(
            "demo", "new-checkout", {"production": UsageDelta(count=3, last=datetime.now(UTC))}
        )
        state = await store.load_project("demo")
        changes = await store.read_changes("demo", 0)
        history = await services.flags.list_history("demo", "new-checkout", limit=5)
        usage = await store.get_usage("demo", now=datetime.now(UTC))

    denied = boto3.client(
        "dynamodb",
        **{
            **root,
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        },
    )
    assert "new-checkout" in state.flags
    assert changes
    assert history.items
    assert usage
    with pytest.raises(ClientError) as refused:  # enforcement is on: not in the policy
        denied.describe_table(TableName=table)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "not authorized to perform: dynamodb:DescribeTable" in str(refused.value)
