"""template.yaml as CloudFormation sees it: translated by aws-sam-translator,
its parameters and conditions resolved, and the few changes moto needs to
create it (each one a gap of moto's, named where it is bridged).

Expected values in the tests come from here, never typed again: a value
changed in template.yaml changes what the tests expect.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
# STACK_TEMPLATE: another copy of the template (to see these tests fail on a
# broken one, or to try a branch's template).
TEMPLATE = Path(os.environ.get("STACK_TEMPLATE", ROOT / "template.yaml"))
REGION = "us-east-1"

# Resource types moto's CloudFormation skips (it logs "No Moto CloudFormation
# support" and creates nothing); AWS creates them. The tests check them on the
# translated template instead.
NOT_CREATED_BY_MOTO = {
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::CloudWatch::Alarm",
}

NO_VALUE = object()


def load_sam(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template, with !Ref/!GetAtt/!If short forms as their long forms."""
    return yaml_parse(path.read_text(encoding="utf-8"))


def translate(sam: dict[str, Any], overrides: dict[str, str], code_uri: str) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit: every function's
    CodeUri points at `code_uri` (an s3:// zip, as `sam package` uploads it)."""
    sam = copy.deepcopy(sam)
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri

    def no_iam_lookup() -> dict[str, str]:
        # The translator's bundled map knows the managed policies SAM adds;
        # asking IAM would need a real account.
        raise AssertionError("aws-sam-translator asked IAM for a managed policy ARN")

    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(sam, parameter_values=dict(overrides), get_managed_policy_map=no_iam_lookup)


class Template:
    """A CloudFormation template with its parameters (defaults, then
    overrides) and conditions resolved; resource references stay as
    {"Ref": id} / {"Fn::GetAtt": [id, attr]} for the caller to follow."""

    def __init__(self, cfn: dict[str, Any], overrides: dict[str, str]):
        self.cfn = cfn
        self.params = {k: v.get("Default") for k, v in cfn.get("Parameters", {}).items()}
        self.params.update(overrides)
        self.conditions: dict[str, bool] = {}
        for name in cfn.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.cfn["Conditions"][name]))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        """`value` with parameter Refs, Fn::If/Equals/Not/And/Or and
        AWS::NoValue resolved (NoValue entries dropped)."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if fn == "Ref" and arg in self.params:
                return self.params[arg]
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.resolve(a) for a in arg)
        items = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not NO_VALUE}

    def active(self, section: str) -> dict[str, dict[str, Any]]:
        """The Resources or Outputs whose Condition holds, resolved."""
        return {
            name: self.resolve(body)
            for name, body in self.cfn.get(section, {}).items()
            if "Condition" not in body or self.condition(body["Condition"])
        }

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.active("Resources").items() if v["Type"] == type_}


def referenced_id(expr: Any) -> str:
    """The logical id a {"Ref": id} or {"Fn::GetAtt": [id, attr]} names."""
    if isinstance(expr, dict) and "Ref" in expr:
        return expr["Ref"]
    if isinstance(expr, dict) and "Fn::GetAtt" in expr:
        return expr["Fn::GetAtt"][0]
    raise AssertionError(f"expected a Ref or Fn::GetAtt to a resource, got {expr!r}")


def sub_names(text: str) -> list[str]:
    """The ${Name} and ${Name.Attr} references of an Fn::Sub string."""
    return re.findall(r"\$\{([^}!]+)\}", text)


def for_moto(tpl: Template) -> tuple[dict[str, Any], set[str]]:
    """The translated template changed only where moto falls short of AWS;
    returns it and the logical ids left out (checked on the template instead)."""
    cfn = copy.deepcopy(tpl.cfn)
    resources = cfn["Resources"]
    left_out = {k for k, v in resources.items() if v["Type"] in NOT_CREATED_BY_MOTO}
    for k in left_out:
        del resources[k]
    # Outputs naming a left-out resource (ApiKeyId: !Ref ApiKey) would have no value.
    for name, out in list(cfn.get("Outputs", {}).items()):
        if set(refs(out["Value"])) & left_out:
            del cfn["Outputs"][name]
    for api_id, api in list(resources.items()):
        if api["Type"] == "AWS::ApiGateway::RestApi" and "Body" in api["Properties"]:
            _bridge_rest_api(tpl, resources, api_id)
    return cfn, left_out


def refs(value: Any) -> list[str]:
    """Every logical id or parameter a value refers to."""
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    if not isinstance(value, dict):
        return []
    if "Ref" in value:
        return [value["Ref"]]
    if "Fn::GetAtt" in value:
        return [value["Fn::GetAtt"][0]]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return [n.split(".")[0] for n in sub_names(text)]
    return [r for v in value.values() for r in refs(v)]


def _bridge_rest_api(tpl: Template, resources: dict[str, Any], api_id: str) -> None:
    props = resources[api_id]["Properties"]
    body = tpl.resolve(props.pop("Body"))
    # moto requires Name; AWS takes the API's name from the body's info.title.
    props["Name"] = body["info"]["title"]
    # moto does not import an OpenAPI Body: the API would have no methods and
    # its Deployment would fail. AWS builds the resources and methods from the
    # body's paths; declare the same ones explicitly.
    schemes = body.get("components", {}).get("securitySchemes", {})
    parents: dict[str, Any] = {"": {"Fn::GetAtt": [api_id, "RootResourceId"]}}
    methods = []
    for path, operations in body["paths"].items():
        resource = _path_resource(resources, api_id, parents, path)
        for verb, operation in operations.items():
            logical = f"{resource['Ref']}{verb.capitalize()}"
            resources[logical] = _method(api_id, resource, verb, operation, schemes)
            methods.append(logical)
    for deployment in resources.values():
        if deployment["Type"] != "AWS::ApiGateway::Deployment":
            continue
        if deployment["Properties"]["RestApiId"] == {"Ref": api_id}:
            deployment["DependsOn"] = methods


def _path_resource(resources: dict[str, Any], api_id: str, parents: dict[str, Any], path: str) -> Any:
    """A Ref to the AWS::ApiGateway::Resource of `path`, adding it and its
    parents to `resources` when missing (`parents`: path -> Ref)."""
    parent = ""
    for part in [p for p in path.split("/") if p]:
        here = f"{parent}/{part}"
        if here not in parents:
            logical = f"{api_id}Path{len(parents)}"
            resources[logical] = {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": {"Ref": api_id}, "ParentId": parents[parent], "PathPart": part},
            }
            parents[here] = {"Ref": logical}
        parent = here
    return parents[parent]


def _method(api_id: str, resource: Any, verb: str, operation: dict, schemes: dict) -> dict[str, Any]:
    """The AWS::ApiGateway::Method API Gateway imports for an OpenAPI operation."""
    required = [schemes[name] for requirement in operation.get("security", []) for name in requirement]
    auth, key_required = "NONE", False
    for scheme in required:
        if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
            auth = "AWS_IAM"
        elif (scheme["type"], scheme["in"], scheme["name"].lower()) == ("apiKey", "header", "x-api-key"):
            key_required = True
        else:
            raise AssertionError(f"no moto equivalent for the security scheme {scheme!r}")
    integration = operation["x-amazon-apigateway-integration"]
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "RestApiId": {"Ref": api_id},
            "ResourceId": resource,
            "HttpMethod": verb.upper(),
            "AuthorizationType": auth,
            "ApiKeyRequired": key_required,
            "Integration": {
                "Type": integration["type"].upper(),
                "IntegrationHttpMethod": integration["httpMethod"],
                "Uri": integration["uri"],
            },
        },
    }
