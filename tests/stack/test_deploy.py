"""The stack deploys: template.yaml, translated by aws-sam-translator, is
created as a CloudFormation stack on moto once per ApiAuth value, and what
is deployed is what the template declares. What moto does not create
(stages, API keys, usage plans, alarms) is checked on the translated
template; stack_template.for_moto names each gap it bridges, and
docs/testing.md lists them.

Every expected value is read from the template (resolved with its parameter
defaults), so a change to template.yaml changes what these tests expect;
what is typed here are the requirements the code places on the template.
"""

from __future__ import annotations

import json
import operator
import os
import subprocess
import uuid

import pytest

from deployment import Clients, Deployed, api_auth_values, deploy, translated
from stack_template import REGION, Template, load_sam, referenced_id, refs

# Queue properties that SQS reports back as attributes of the same name.
QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
)


def as_attribute(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def work_queues(deployed: Deployed) -> dict[str, dict]:
    """The queues that have a dead-letter queue: the functions' inputs."""
    queues = deployed.template.resources("AWS::SQS::Queue")
    return {k: q for k, q in queues.items() if "RedrivePolicy" in q["Properties"]}


def built_from(template: Template, binary: str) -> str:
    """The function whose code is `binary` (its SAM build metadata)."""
    (found,) = (
        k
        for k, f in template.resources("AWS::Lambda::Function").items()
        if f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binary
    )
    return found


def notified_queues(template: Template) -> set[str]:
    """The queues the buckets send their notifications to."""
    return {
        referenced_id(q["Queue"])
        for b in template.resources("AWS::S3::Bucket").values()
        for q in b["Properties"].get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    }


def input_queue(template: Template, function: str) -> str:
    """The queue of the function's packets (not a bucket's notifications)."""
    (found,) = (
        referenced_id(m["Properties"]["EventSourceArn"])
        for m in template.resources("AWS::Lambda::EventSourceMapping").values()
        if referenced_id(m["Properties"]["FunctionName"]) == function
        and referenced_id(m["Properties"]["EventSourceArn"]) not in notified_queues(template)
    )
    return found


def dead_letter_queue(template: Template, queue: str) -> str:
    redrive = template.resources("AWS::SQS::Queue")[queue]["Properties"]["RedrivePolicy"]
    return referenced_id(redrive["deadLetterTargetArn"])


def test_stack_is_created(deployed: Deployed, aws: Clients):
    stack = deployed.stack
    failures = [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in aws.cloudformation.describe_stack_events(StackName=deployed.name)["StackEvents"]
        if e["ResourceStatus"].endswith("FAILED")
    ]
    assert stack["StackStatus"] == "CREATE_COMPLETE", (stack.get("StackStatusReason"), failures)
    resources = aws.cloudformation.describe_stack_resources(StackName=deployed.name)["StackResources"]
    # moto lists a queue policy without its logical id or type (and does not
    # apply it): see test_the_bucket_is_named_as_its_queue_policy_expects.
    listed = {r["LogicalResourceId"]: r["ResourceType"] for r in resources if "LogicalResourceId" in r}
    policies = {k for k, v in deployed.created.items() if v == "AWS::SQS::QueuePolicy"}
    assert len(resources) - len(listed) == len(policies)
    assert listed == {k: v for k, v in deployed.created.items() if k not in policies}
    assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}


def test_the_bucket_is_named_as_its_queue_policy_expects(deployed: Deployed, aws: Clients):
    """moto does not apply an AWS::SQS::QueuePolicy (nor list it with a
    logical id), so the policy's condition is checked through the name it
    names the bucket by: the same !Sub as the bucket's BucketName
    (crates/stack/tests/security.rs), which must deploy to this name."""
    policies = deployed.template.resources("AWS::SQS::QueuePolicy")
    assert set(notified_queues(deployed.template)) == {
        referenced_id(q) for p in policies.values() for q in p["Properties"]["Queues"]
    }
    (bucket,) = deployed.template.resources("AWS::S3::Bucket")
    stack_tag = deployed.stack["StackId"].split("/")[2].split("-")[0]
    account = aws.sts.get_caller_identity()["Account"]
    assert deployed.physical[bucket] == f"adder-input-{account}-{REGION}-{stack_tag}"
    aws.s3.head_bucket(Bucket=deployed.physical[bucket])


def test_queues_are_as_declared(deployed: Deployed, aws: Clients):
    queues = deployed.template.resources("AWS::SQS::Queue")
    assert work_queues(deployed), "no queue has a dead-letter queue"
    for logical, queue in queues.items():
        declared = queue["Properties"]
        url = deployed.physical[logical]
        got = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name in QUEUE_ATTRIBUTES:
            if name in declared:
                assert got.get(name) == as_attribute(declared[name]), f"{logical} {name}"
        if "RedrivePolicy" not in declared:
            assert "RedrivePolicy" not in got, logical
            continue
        redrive, want = json.loads(got["RedrivePolicy"]), declared["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == deployed.value(aws, want["deadLetterTargetArn"]), logical
        assert int(redrive["maxReceiveCount"]) == int(want["maxReceiveCount"]), logical


def test_tables_are_as_declared(deployed: Deployed, aws: Clients):
    tables = deployed.template.resources("AWS::DynamoDB::Table")
    assert tables
    for logical, table in tables.items():
        declared = table["Properties"]
        name = deployed.physical[logical]
        got = aws.dynamodb.describe_table(TableName=name)["Table"]
        assert got["KeySchema"] == declared["KeySchema"], logical
        by_name = operator.itemgetter("AttributeName")
        assert sorted(got["AttributeDefinitions"], key=by_name) == sorted(declared["AttributeDefinitions"], key=by_name)
        assert got["BillingModeSummary"]["BillingMode"] == declared.get("BillingMode", "PROVISIONED"), logical
        spec = declared.get("TimeToLiveSpecification", {"Enabled": False})
        ttl = aws.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if not spec["Enabled"]:
            assert ttl["TimeToLiveStatus"] == "DISABLED", logical
            continue
        # DynamoDB expires rows only by a Number attribute: a TTL attribute
        # declared as a (String) key would never expire anything.
        types = {a["AttributeName"]: a["AttributeType"] for a in declared["AttributeDefinitions"]}
        assert types.get(spec["AttributeName"], "N") == "N", logical
        # moto 5.2 accepts TimeToLiveSpecification in a stack but does not
        # apply it (describe_time_to_live says DISABLED); AWS enables TTL on
        # the declared attribute, which is what a moto that applies it must show.
        if ttl["TimeToLiveStatus"] != "DISABLED":
            assert (ttl["TimeToLiveStatus"], ttl.get("AttributeName")) == ("ENABLED", spec["AttributeName"]), logical


def test_event_source_mappings_are_as_declared(deployed: Deployed, aws: Clients):
    # Declared as AWS::Lambda::EventSourceMapping or as SAM `Type: SQS`
    # events, they are mappings in the translated template either way.
    mappings = deployed.template.resources("AWS::Lambda::EventSourceMapping")
    sources = sorted(referenced_id(m["Properties"]["EventSourceArn"]) for m in mappings.values())
    # Every work queue feeds exactly one function; no dead-letter queue feeds any.
    assert sources == sorted(work_queues(deployed))
    for logical, mapping in mappings.items():
        declared = mapping["Properties"]
        # The functions answer batchItemFailures: without this Lambda would
        # retry a whole batch for one bad message. And a queue must not
        # scale its function without bound.
        assert "ReportBatchItemFailures" in declared.get("FunctionResponseTypes", []), logical
        assert "MaximumConcurrency" in declared.get("ScalingConfig", {}), logical
        got = aws.lambda_.get_event_source_mapping(UUID=deployed.physical[logical])
        assert got["EventSourceArn"] == deployed.value(aws, declared["EventSourceArn"]), logical
        function = referenced_id(declared["FunctionName"])
        assert got["FunctionArn"] == deployed.attribute(aws, function, "Arn"), logical
        assert got["BatchSize"] == int(declared["BatchSize"]), logical
        assert got["FunctionResponseTypes"] == declared["FunctionResponseTypes"], logical
        assert got["ScalingConfig"] == {k: int(v) for k, v in declared["ScalingConfig"].items()}, logical
        assert got["State"] == ("Enabled" if declared.get("Enabled", True) else "Disabled"), logical
        # Lambda refuses to create the mapping when the queue's visibility
        # timeout is shorter than the function's timeout; moto does not check.
        queue_url = deployed.physical[referenced_id(declared["EventSourceArn"])]
        visibility = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
        timeout = aws.lambda_.get_function_configuration(FunctionName=deployed.physical[function])["Timeout"]
        assert int(visibility["Attributes"]["VisibilityTimeout"]) >= timeout, logical


def assert_names_a_resource(deployed: Deployed, aws: Clients, logical: str, value: str) -> None:
    """`value` (an output) names `logical`'s deployed resource, which exists."""
    type_, physical = deployed.type_of(logical), deployed.physical[logical]
    if type_ == "AWS::SQS::Queue":
        assert aws.sqs.get_queue_attributes(QueueUrl=value, AttributeNames=["QueueArn"])["Attributes"]
    elif type_ == "AWS::DynamoDB::Table":
        assert aws.dynamodb.describe_table(TableName=value)["Table"]["TableStatus"] == "ACTIVE"
    elif type_ == "AWS::S3::Bucket":
        assert value == physical
        aws.s3.head_bucket(Bucket=value)
    elif type_ == "AWS::ApiGateway::RestApi":
        assert aws.apigateway.get_rest_api(restApiId=physical)["id"] == physical
        stages = [s["Properties"]["StageName"] for s in deployed.template.resources("AWS::ApiGateway::Stage").values()]
        assert value == f"https://{physical}.execute-api.{REGION}.amazonaws.com/{value.rsplit('/', 1)[1]}"
        assert value.rsplit("/", 1)[1] in stages
    else:
        raise AssertionError(f"no existence check for {type_} ({logical})")


def test_outputs_name_the_stacks_resources(deployed: Deployed, aws: Clients):
    declared = deployed.template.active("Outputs")
    got = deployed.outputs
    assert set(got) <= set(declared)
    for name, output in declared.items():
        referenced = set(refs(output["Value"])) & set(deployed.template.cfn["Resources"])
        if referenced & deployed.left_out:
            # Names a resource moto does not create: test_api_auth_follows_the_parameter checks it.
            continue
        assert name in got, f"output {name} is missing"
        assert got[name] == deployed.value(aws, output["Value"]), name
        for logical in referenced:
            assert_names_a_resource(deployed, aws, logical, got[name])


def test_functions_are_as_declared_and_name_the_stacks_resources(deployed: Deployed, aws: Clients):
    functions = deployed.template.resources("AWS::Lambda::Function")
    assert functions
    for logical, function in functions.items():
        declared = function["Properties"]
        config = aws.lambda_.get_function_configuration(FunctionName=deployed.physical[logical])
        for name in ("Runtime", "Handler", "Timeout", "MemorySize"):
            assert str(config[name]) == str(declared[name]), f"{logical} {name}"
        variables = declared.get("Environment", {}).get("Variables", {})
        got = config.get("Environment", {}).get("Variables", {})
        # moto keeps numbers as numbers; Lambda's variables are strings.
        assert {k: str(v) for k, v in got.items()} == {k: str(deployed.value(aws, v)) for k, v in variables.items()}


def serverless_api_stage() -> str:
    (api,) = (r for r in load_sam()["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    return api["Properties"]["StageName"]


@pytest.mark.parametrize("auth", api_auth_values())
def test_api_stage_is_traced_and_throttled_by_the_parameters(auth: str):
    defaults = translated({"ApiAuth": auth}).params
    # Values unlike the defaults, to see them arrive where they belong.
    rate, burst = int(defaults["ThrottleRateLimit"]) + 1, int(defaults["ThrottleBurstLimit"]) + 2
    template = translated({"ApiAuth": auth, "ThrottleRateLimit": str(rate), "ThrottleBurstLimit": str(burst)})
    stages = template.resources("AWS::ApiGateway::Stage")
    named = {k: s["Properties"] for k, s in stages.items() if s["Properties"]["StageName"] == serverless_api_stage()}
    assert len(named) == 1, stages
    (stage_id, stage), = named.items()
    assert stage["TracingEnabled"] is True
    throttle = {"ThrottlingRateLimit": str(rate), "ThrottlingBurstLimit": str(burst)}
    every_method = [
        {k: str(v) for k, v in s.items() if k in throttle}
        for s in stage.get("MethodSettings", [])
        if (s.get("HttpMethod"), s.get("ResourcePath")) == ("*", "/*")
    ]
    assert every_method == [throttle]
    for plan in template.resources("AWS::ApiGateway::UsagePlan").values():
        plan_throttle = {k: str(v) for k, v in plan["Properties"]["Throttle"].items()}
        assert plan_throttle == {"RateLimit": str(rate), "BurstLimit": str(burst)}
        assert [referenced_id(s["Stage"]) for s in plan["Properties"]["ApiStages"]] == [stage_id]


def test_api_has_no_stage_but_the_named_one(deployed: Deployed):
    # Checked on the translated template only: moto creates no stage from
    # `AWS::ApiGateway::Stage` resources (only from a Deployment's
    # StageName, which must not exist), so the deployed API's stage list is
    # always empty there and comparing it would prove nothing.
    template = deployed.template
    implicit = [
        d["Properties"]["StageName"]
        for d in template.resources("AWS::ApiGateway::Deployment").values()
        if "StageName" in d["Properties"]
    ]
    assert implicit == [], "a Deployment with StageName creates a stage besides the Stage resources"
    names = {s["Properties"]["StageName"] for s in template.resources("AWS::ApiGateway::Stage").values()}
    assert names == {serverless_api_stage()}


def security_schemes(template: Template) -> list[tuple[str, dict]]:
    """(operation, its security scheme definitions) for every operation of every API body."""
    found = []
    for api in template.resources("AWS::ApiGateway::RestApi").values():
        body = api["Properties"]["Body"]
        schemes = body.get("components", {}).get("securitySchemes", {})
        for path, operations in body["paths"].items():
            for verb, operation in operations.items():
                required = [name for requirement in operation.get("security", []) for name in requirement]
                found.append((f"{verb.upper()} {path}", [schemes[name] for name in required]))
    return found


@pytest.mark.parametrize("auth", api_auth_values())
def test_api_auth_follows_the_parameter(auth: str):
    template = translated({"ApiAuth": auth})
    operations = security_schemes(template)
    assert operations
    for operation, schemes in operations:
        if auth == "AWS_IAM":
            assert [s.get("x-amazon-apigateway-authtype") for s in schemes] == ["awsSigv4"], operation
        elif auth == "API_KEY":
            assert [(s["type"], s["in"], s["name"]) for s in schemes] == [("apiKey", "header", "x-api-key")], operation
            assert "x-amazon-apigateway-authtype" not in schemes[0], operation
        else:
            assert schemes == [], operation
    keys = template.resources("AWS::ApiGateway::ApiKey")
    plans = template.resources("AWS::ApiGateway::UsagePlan")
    links = template.resources("AWS::ApiGateway::UsagePlanKey")
    declared_keys = {k for k, r in template.cfn["Resources"].items() if r["Type"] == "AWS::ApiGateway::ApiKey"}
    key_outputs = [k for k, o in template.active("Outputs").items() if set(refs(o["Value"])) & declared_keys]
    if auth != "API_KEY":
        assert (keys, plans, links, key_outputs) == ({}, {}, {}, [])
        return
    assert (len(keys), len(plans), len(links), len(key_outputs)) == (1, 1, 1, 1), "one key, plan, link and key output"
    ((key_id, key),), ((plan_id, _),), (link,) = keys.items(), plans.items(), links.values()
    assert key["Properties"].get("Enabled") is True
    assert link["Properties"]["KeyType"] == "API_KEY"
    linked = referenced_id(link["Properties"]["KeyId"]), referenced_id(link["Properties"]["UsagePlanId"])
    assert linked == (key_id, plan_id)


def test_alarms_watch_every_dead_letter_queue_and_function(deployed: Deployed, aws: Clients):
    watched = set()
    for logical, alarm in deployed.template.resources("AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        (dimension,) = p["Dimensions"]
        watched.add((p["Namespace"], p["MetricName"], dimension["Name"], referenced_id(dimension["Value"])))
        # Any dead letter or error at all is worth a look.
        assert (p["Threshold"], p["ComparisonOperator"]) == (0, "GreaterThanThreshold"), logical
        # The dimension names a resource of this stack as CloudWatch knows it
        # (a queue by name, not by URL; a function by name).
        name = deployed.value(aws, dimension["Value"])
        if dimension["Name"] == "QueueName":
            assert aws.sqs.get_queue_url(QueueName=name)["QueueUrl"], logical
        else:
            assert dimension["Name"] == "FunctionName", logical
            assert aws.lambda_.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name, logical
    for queue in (dead_letter_queue(deployed.template, q) for q in work_queues(deployed)):
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue) in watched, queue
    for function in deployed.template.resources("AWS::Lambda::Function"):
        assert ("AWS/Lambda", "Errors", "FunctionName", function) in watched, function


def test_alarms_notify_the_topic_only_when_one_is_given():
    topic = f"arn:aws:sns:{REGION}:123456789012:adder-alarms"
    for given, actions in (({}, None), ({"AlarmTopicArn": topic}, [topic])):
        alarms = translated(given).resources("AWS::CloudWatch::Alarm")
        assert alarms
        for logical, alarm in alarms.items():
            p = alarm["Properties"]
            assert (p.get("AlarmActions"), p.get("OKActions")) == (actions, actions), logical


def adder_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION, RUST_LOG="warn")
    return env


def test_adder_stack_mode_finds_the_stacks_resources(aws: Clients, endpoint: str, adder_bin: str):
    auth = load_sam()["Parameters"]["ApiAuth"]["Default"]
    stack = deploy(aws, "adder-cli", {"ApiAuth": auth})
    assert stack.stack["StackStatus"] == "CREATE_COMPLETE"
    # Found through the functions' own wiring, not through the outputs under
    # test: an output naming the wrong queue or table fails below.
    template = stack.template
    times_two_queue = input_queue(template, built_from(template, "times_two"))
    times_two_dlq = stack.physical[dead_letter_queue(template, times_two_queue)]
    sum_array_env = template.resources("AWS::Lambda::Function")[built_from(template, "sum_array")]["Properties"]
    sums_table = stack.value(aws, sum_array_env["Environment"]["Variables"]["SUMS_TABLE"])

    def adder(*args: str) -> str:
        done = subprocess.run(
            [adder_bin, *args, "--stack", stack.name, "--endpoint-url", endpoint],
            capture_output=True, text=True, timeout=60, env=adder_env(),
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    # A pending array in the sums table (the fields `pending` reads).
    array_id = str(uuid.uuid4())
    assert array_id not in adder("pending")
    aws.dynamodb.put_item(
        TableName=sums_table,
        Item={
            "arrayId": {"S": array_id},
            "status": {"S": "pending"},
            "arrayLength": {"N": "3"},
            "submittedAt": {"N": "1"},
        },
    )
    assert array_id in adder("pending")
    # Were the scratchpad output the sums table, the scan would find that
    # record and fail to read it as a packet.
    assert "0 rows" in adder("scratchpad", array_id, "--scan")

    sent = aws.sqs.send_message(QueueUrl=times_two_dlq, MessageBody="not a packet")
    listed = adder("dlq", "list")
    assert "TimesTwo dead-letter queue: 1 message(s)" in listed and sent["MessageId"] in listed
    assert "Reduce dead-letter queue: 0 message(s)" in listed
    # moto runs a function in Docker when a message reaches a mapped queue
    # (Lambda runs it on AWS); switched off so the redriven message stays
    # where the test can see it.
    for mapping in template.resources("AWS::Lambda::EventSourceMapping"):
        aws.lambda_.update_event_source_mapping(UUID=stack.physical[mapping], Enabled=False)
    assert "moved 1 message(s)" in adder("dlq", "redrive", "--queue", "times-two")
    received = aws.sqs.receive_message(QueueUrl=stack.physical[times_two_queue], WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["not a packet"]
    assert "TimesTwo dead-letter queue: 0 message(s)" in adder("dlq", "list", "--queue", "times-two")
