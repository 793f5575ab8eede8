"""template.yaml deployed on moto as a CloudFormation stack, the way `sam
deploy` would (translated, the functions' code in S3), and the deployed
values of the template's expressions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from stack_template import REGION, ROOT, Template, for_moto, load_sam, sub_names, translate

CODE_BUCKET = "adder-deploy-code"
CODE_KEY = "functions.zip"
# Fake keys: moto accepts anything, and nothing here may reach a real account.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server_path() -> str:
    for candidate in (os.environ.get("MOTO_SERVER"), str(ROOT / ".venv/bin/moto_server"), shutil.which("moto_server")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        "moto_server not found. Install it with `scripts/setup` (or `pip install 'moto[server]'`), "
        "or set MOTO_SERVER to its path."
    )


class Clients:
    """boto3 clients of one endpoint, made on first use."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._made: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._made:
            self._made[service] = boto3.client(
                service.rstrip("_"), endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS
            )
        return self._made[service]


@dataclass
class Deployed:
    """A stack created from template.yaml, and what it was created from."""

    name: str
    overrides: dict[str, str]
    template: Template  # the translated template, parameters and conditions resolved
    left_out: set[str]  # logical ids moto does not create (checked on `template`)
    stack: dict[str, Any]  # describe_stacks' answer
    created: dict[str, str]  # logical id -> type, of what moto was asked to create
    physical: dict[str, str]  # logical id -> physical id

    @property
    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack.get("Outputs", [])}

    def type_of(self, logical_id: str) -> str:
        return self.template.cfn["Resources"][logical_id]["Type"]

    def value(self, aws: Clients, expr: Any) -> Any:
        """What CloudFormation makes of `expr` in this stack: Ref, Fn::GetAtt
        and Fn::Sub followed to the deployed resources."""
        expr = self.template.resolve(expr)
        if not isinstance(expr, dict):
            return expr
        if "Ref" in expr:
            return self.pseudo(aws, expr["Ref"]) or self.physical[expr["Ref"]]
        if "Fn::GetAtt" in expr:
            return self.attribute(aws, *expr["Fn::GetAtt"])
        if "Fn::Sub" in expr:
            text, names = (expr["Fn::Sub"], {}) if isinstance(expr["Fn::Sub"], str) else expr["Fn::Sub"]
            for name in sub_names(text):
                if name in names:
                    found = self.value(aws, names[name])
                elif "." in name:
                    found = self.attribute(aws, *name.split(".", 1))
                else:
                    found = self.value(aws, {"Ref": name})
                text = text.replace("${" + name + "}", str(found))
            return text
        raise AssertionError(f"no deployed value for {expr!r}")

    def pseudo(self, aws: Clients, name: str) -> str | None:
        return {
            "AWS::Region": lambda: REGION,
            "AWS::Partition": lambda: "aws",
            "AWS::URLSuffix": lambda: "amazonaws.com",
            "AWS::StackName": lambda: self.name,
            "AWS::AccountId": lambda: aws.sts.get_caller_identity()["Account"],
        }.get(name, lambda: None)()

    def attribute(self, aws: Clients, logical_id: str, attr: str) -> str:
        physical, type_ = self.physical[logical_id], self.type_of(logical_id)
        if type_ == "AWS::SQS::Queue" and attr in ("Arn", "QueueName"):
            arn = aws.sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return arn if attr == "Arn" else arn.rsplit(":", 1)[1]
        if type_ == "AWS::Lambda::Function" and attr == "Arn":
            return aws.lambda_.get_function(FunctionName=physical)["Configuration"]["FunctionArn"]
        if type_ == "AWS::DynamoDB::Table" and attr == "Arn":
            return aws.dynamodb.describe_table(TableName=physical)["Table"]["TableArn"]
        raise AssertionError(f"no deployed value for {logical_id}.{attr} ({type_})")


def translated(overrides: dict[str, str]) -> Template:
    cfn = translate(load_sam(), overrides, f"s3://{CODE_BUCKET}/{CODE_KEY}")
    return Template(cfn, overrides)


def deploy(aws: Clients, name: str, overrides: dict[str, str]) -> Deployed:
    template = translated(overrides)
    body, left_out = for_moto(template)
    aws.cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.monotonic() + 60
    while True:
        stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    resources = aws.cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    # moto lists an AWS::SQS::QueuePolicy with no LogicalResourceId (nor
    # physical id); the tests check the queue's Policy attribute instead.
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources if "LogicalResourceId" in r}
    created = {
        k: v["Type"]
        for k, v in body["Resources"].items()
        if "Condition" not in v or template.condition(v["Condition"])
    }
    return Deployed(name, overrides, template, left_out, stack, created, physical)


def api_auth_values() -> list[str]:
    return load_sam()["Parameters"]["ApiAuth"]["AllowedValues"]
