//! moto with IAM enforced: one IAM user per principal of the system, each
//! holding exactly the actions that principal is meant to have.
//!
//! moto checks IAM once its count of unchecked requests is used up
//! (`INITIAL_NO_AUTH_ACTION_COUNT`, here set to 0 through its
//! `/moto-api/reset-auth` endpoint after the users exist). From then on every
//! request is authorised against the policies of the IAM user owning the
//! access key that signed it: an action missing from a user's policy is an
//! `AccessDenied` naming it. moto matches the action (by the operation's own
//! name: `sqs:SendMessageBatch`, not AWS's `sqs:SendMessage`, which
//! [`stack::iam::operations_allowed_by`] accounts for). It checks SQS
//! requests against the queue's ARN, so a function's SQS statements name its
//! queues; it checks DynamoDB requests against `"*"` only, so table
//! statements are on `"*"` (a statement on a table's ARN would deny every
//! request: tests/iam_grants.rs `moto_authorises_dynamodb_against_star_only`
//! shows it, and fails once moto checks tables, when these statements
//! should be scoped). crates/stack/tests/security.rs checks the template's
//! table scoping, and tests/iam_grants.rs that each function's requests name
//! only its own tables.
//!
//! The principals:
//! - one per function of template.yaml, with its grants (its code's and its
//!   event source mapping's, which the local runner's poller uses);
//! - the operator, with the policy docs/iam.md gives for the admin commands;
//! - the deployer, with what the runner needs to create the queues and tables
//!   (CloudFormation's part on AWS);
//! - the harness, for a test's own setup and checks (any SQS, DynamoDB or S3 call).

use crate::Moto;
use stack::Stack;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The operator's policy, as docs/iam.md documents it for a deployed stack.
pub const OPERATOR_POLICY_DOC: &str = include_str!("../../../docs/iam.md");

/// Marks the operator policy's JSON block in docs/iam.md.
const OPERATOR_POLICY_MARKER: &str = "<!-- operator-policy -->";

/// What the local runner's provisioning calls (`stack_tools::provision`),
/// in AWS's names and, where they differ, moto's (`s3:HeadBucket`).
pub const DEPLOYER_ACTIONS: [&str; 15] = [
    "sqs:GetQueueUrl",
    "sqs:CreateQueue",
    "sqs:SetQueueAttributes",
    "sqs:GetQueueAttributes",
    "dynamodb:DescribeTable",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
    "s3:ListBucket",
    "s3:HeadBucket",
    "s3:CreateBucket",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketNotification",
];

/// An IAM user's access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Principal {
    /// Environment variables that make an SDK or a child process sign as it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
        ]
    }

    /// `moto`'s environment (endpoint, region) with this principal's keys in
    /// place of moto's default ones, which no user owns once IAM is enforced.
    pub fn env_on(&self, moto: &Moto) -> Vec<(&'static str, String)> {
        let mut env = moto.env();
        env.retain(|(k, _)| !k.starts_with("AWS_ACCESS_KEY") && !k.starts_with("AWS_SECRET"));
        env.extend(self.env());
        env
    }
}

/// The principals of an IAM-enforcing moto.
#[derive(Debug, Clone)]
pub struct Principals {
    /// By function logical id.
    pub functions: BTreeMap<String, Principal>,
    pub operator: Principal,
    pub deployer: Principal,
    pub harness: Principal,
}

impl Principals {
    /// The value of `ADDER_FUNCTION_CREDENTIALS` for `adder serve`: each
    /// function's keys, `Function=KEY:SECRET`, comma-separated.
    pub fn function_credentials(&self) -> String {
        self.functions
            .iter()
            .map(|(f, p)| format!("{f}={}:{}", p.access_key_id, p.secret_access_key))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The environment for `adder serve --backend aws`: the deployer's keys,
    /// and each function's own.
    pub fn runner_env(&self, moto: &Moto) -> Vec<(&'static str, String)> {
        let mut env = self.deployer.env_on(moto);
        env.push(("ADDER_FUNCTION_CREDENTIALS", self.function_credentials()));
        env
    }

    /// The environment for the admin commands (`adder pending`, `adder dlq`).
    pub fn operator_env(&self, moto: &Moto) -> Vec<(&'static str, String)> {
        self.operator.env_on(moto)
    }
}

/// Why setting up IAM on moto failed.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("moto's IAM API: {0}")]
    Io(#[from] std::io::Error),
    #[error("moto answered something that is not HTTP: {0}")]
    Garbled(String),
    #[error("moto's IAM {action} answered {status}: {body}")]
    Refused {
        action: String,
        status: u16,
        body: String,
    },
    #[error("moto's CreateAccessKey answer has no {0}")]
    NoKey(&'static str),
    #[error("docs/iam.md: {0}")]
    OperatorPolicy(String),
}

/// The account and region moto puts in its ARNs.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A function's policy statements, from its grants in `stack`: each grant's
/// operations (in the names moto checks) on its queue's ARN, for the queues
/// the runner creates under `prefix` (moto checks SQS requests against the
/// queue), on its bucket's or its objects' ARN (moto checks S3 requests
/// against them), or on `"*"` for a table (moto checks DynamoDB against `"*"` only).
pub fn function_statements(stack: &Stack, function: &str, prefix: &str) -> Vec<serde_json::Value> {
    let mut by_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for grant in stack
        .function(function)
        .map(|f| &f.grants)
        .into_iter()
        .flatten()
    {
        let resource = resource_arn(stack, &grant.resource, prefix);
        let operations = stack::iam::operations_allowed_by(&grant.action);
        by_resource.entry(resource).or_default().extend(operations);
    }
    by_resource
        .into_iter()
        .map(|(resource, actions)| allow(&actions, &resource))
        .collect()
}

/// The ARN moto checks a request on `resource` (a grant's) against.
fn resource_arn(stack: &Stack, resource: &str, prefix: &str) -> String {
    let (bucket, objects) = match resource.strip_suffix("/*") {
        Some(bucket) => (bucket, "/*"),
        None => (resource, ""),
    };
    if stack.bucket(bucket).is_some() {
        let name = stack_names::local_bucket_name(prefix, bucket);
        return format!("arn:aws:s3:::{name}{objects}");
    }
    match stack.queue(resource) {
        Some(_) => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}-{resource}"),
        None => "*".to_string(),
    }
}

/// `statements` less `action` (with the operations it allows under moto's
/// names: `sqs:SendMessage` also takes `sqs:SendMessageBatch`), a statement
/// left with no action dropped: a principal short of one grant, to show that
/// moto's enforcement bites.
pub fn without_action(statements: &[serde_json::Value], action: &str) -> Vec<serde_json::Value> {
    let removed = stack::iam::operations_allowed_by(action);
    statements
        .iter()
        .filter_map(|statement| {
            let kept: Vec<&serde_json::Value> = statement["Action"]
                .as_array()?
                .iter()
                .filter(|a| !removed.iter().any(|r| a.as_str() == Some(r)))
                .collect();
            let mut statement = statement.clone();
            statement["Action"] = serde_json::json!(kept);
            (!kept.is_empty()).then_some(statement)
        })
        .collect()
}

fn allow(actions: &BTreeSet<String>, resource: &str) -> serde_json::Value {
    serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

/// The actions of the operator policy in docs/iam.md, in the names moto checks.
pub fn operator_actions() -> Result<BTreeSet<String>, IamError> {
    let bad = |why: &str| IamError::OperatorPolicy(why.to_string());
    let after = OPERATOR_POLICY_DOC
        .split_once(OPERATOR_POLICY_MARKER)
        .ok_or_else(|| bad("no operator-policy marker"))?
        .1;
    let block = after
        .split_once("```json")
        .and_then(|(_, rest)| rest.split_once("```"))
        .ok_or_else(|| bad("no ```json block after the marker"))?
        .0;
    let policy: serde_json::Value =
        serde_json::from_str(block).map_err(|e| bad(&format!("the policy is not JSON: {e}")))?;
    let statements = policy["Statement"]
        .as_array()
        .ok_or_else(|| bad("the policy has no Statement list"))?;
    let mut actions = BTreeSet::new();
    for statement in statements {
        let listed = match &statement["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => return Err(bad("a statement has no Action")),
        };
        actions.extend(
            listed
                .iter()
                .flat_map(|a| stack::iam::operations_allowed_by(a)),
        );
    }
    Ok(actions)
}

/// Creates the principals for `stack` on `moto`, for a runner whose queues
/// and tables are named `<prefix>-<LogicalId>`, then makes moto enforce IAM:
/// from the next request on, only their keys work.
pub fn enforce(moto: &Moto, stack: &Stack, prefix: &str) -> Result<Principals, IamError> {
    enforce_with_users(moto, stack, prefix, &[]).map(|(principals, _)| principals)
}

/// Like [`enforce`], with extra users, each allowed exactly its statements
/// (`(name, statements)`), for tests of what moto checks: by name.
pub fn enforce_with_users(
    moto: &Moto,
    stack: &Stack,
    prefix: &str,
    extra: &[(&str, Vec<serde_json::Value>)],
) -> Result<(Principals, BTreeMap<String, Principal>), IamError> {
    let iam = IamApi {
        address: moto.endpoint().trim_start_matches("http://").to_string(),
    };
    let mut functions = BTreeMap::new();
    for f in &stack.functions {
        let statements = function_statements(stack, &f.logical_id, prefix);
        let principal = iam.user(&f.logical_id, statements)?;
        functions.insert(f.logical_id.clone(), principal);
    }
    let operator = iam.user("operator", vec![allow(&operator_actions()?, "*")])?;
    let deploying = DEPLOYER_ACTIONS.map(String::from).into();
    let deployer = iam.user("deployer", vec![allow(&deploying, "*")])?;
    let everything = ["sqs:*", "dynamodb:*", "s3:*"].map(String::from).into();
    let harness = iam.user("harness", vec![allow(&everything, "*")])?;
    let mut users = BTreeMap::new();
    for (name, statements) in extra {
        users.insert(name.to_string(), iam.user(name, statements.clone())?);
    }
    iam.start_checking()?;
    let principals = Principals {
        functions,
        operator,
        deployer,
        harness,
    };
    Ok((principals, users))
}

/// moto's IAM query API, called before IAM is enforced (so unsigned: the
/// Authorization header only tells moto which service is meant). Plain
/// HTTP/1.0 over loopback: a few small requests need no HTTP client.
struct IamApi {
    /// `host:port`
    address: String,
}

const UNCHECKED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=setup/20260101/us-east-1/iam/aws4_request, \
    SignedHeaders=host, Signature=unchecked";

impl IamApi {
    /// POSTs `body` to `path`: (status, answer).
    fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<(u16, String), IamError> {
        let mut stream = TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!("POST {path} HTTP/1.0\r\nHost: {}\r\n", self.address);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| IamError::Garbled(answer.chars().take(200).collect()))?;
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Ok((status, body.to_string()))
    }

    fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, IamError> {
        let mut form = vec![("Action", action), ("Version", "2010-05-08")];
        form.extend_from_slice(params);
        let headers = [
            ("Authorization", UNCHECKED_AUTHORIZATION),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let (status, body) = self.post("/", &headers, &form_encoded(&form))?;
        if status != 200 {
            return Err(IamError::Refused {
                action: action.to_string(),
                status,
                body,
            });
        }
        Ok(body)
    }

    /// A user allowed exactly `statements`, and its access key.
    fn user(&self, name: &str, statements: Vec<serde_json::Value>) -> Result<Principal, IamError> {
        self.call("CreateUser", &[("UserName", name)])?;
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
        let policy = policy.to_string();
        let params = [
            ("UserName", name),
            ("PolicyName", "exactly-its-actions"),
            ("PolicyDocument", policy.as_str()),
        ];
        self.call("PutUserPolicy", &params)?;
        let answer = self.call("CreateAccessKey", &[("UserName", name)])?;
        Ok(Principal {
            user: name.to_string(),
            access_key_id: xml_text(&answer, "AccessKeyId")
                .ok_or(IamError::NoKey("AccessKeyId"))?,
            secret_access_key: xml_text(&answer, "SecretAccessKey")
                .ok_or(IamError::NoKey("SecretAccessKey"))?,
        })
    }

    /// From now on moto authorises every request (`INITIAL_NO_AUTH_ACTION_COUNT` = 0).
    fn start_checking(&self) -> Result<(), IamError> {
        let (status, body) = self.post("/moto-api/reset-auth", &[], "0")?;
        if status != 200 {
            return Err(IamError::Refused {
                action: "reset-auth".into(),
                status,
                body,
            });
        }
        Ok(())
    }
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_encoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_policy_in_the_docs_reads() {
        let actions = operator_actions().expect("docs/iam.md has the operator policy");
        for needed in [
            "dynamodb:Scan",
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibilityBatch",
        ] {
            assert!(actions.contains(needed), "{needed}: {actions:?}");
        }
    }

    #[test]
    fn function_statements_name_their_queues() {
        let stack = Stack::embedded().expect("template.yaml parses");
        let statements = function_statements(&stack, "TimesTwoFunction", "p");
        let on = |resource: &str| -> Vec<String> {
            statements
                .iter()
                .find(|s| s["Resource"] == resource)
                .and_then(|s| s["Action"].as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let own = on("arn:aws:sqs:us-east-1:123456789012:p-TimesTwoQueue");
        assert!(
            own.contains(&"sqs:DeleteMessageBatch".to_string()),
            "{own:?}"
        );
        let reduce = on("arn:aws:sqs:us-east-1:123456789012:p-ReduceQueue");
        assert_eq!(reduce, ["sqs:SendMessage", "sqs:SendMessageBatch"]);
        assert!(on("*").contains(&"dynamodb:UpdateItem".to_string()));
        assert_eq!(
            on("arn:aws:s3:::p-inputbucket/*"),
            ["s3:GetObject", "s3:GetObjectVersion"]
        );
        assert_eq!(
            on("arn:aws:s3:::p-inputbucket"),
            ["s3:HeadBucket", "s3:ListBucket"]
        );
        let notified = on("arn:aws:sqs:us-east-1:123456789012:p-ObjectCreatedQueue");
        assert_eq!(
            notified,
            [
                "sqs:DeleteMessage",
                "sqs:DeleteMessageBatch",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage"
            ]
        );
    }

    #[test]
    fn a_principal_short_of_one_action() {
        let stack = Stack::embedded().expect("template.yaml parses");
        let all = function_statements(&stack, "SumArrayFunction", "p");
        let short = without_action(&all, "sqs:SendMessage");
        let actions = |statements: &[serde_json::Value]| -> BTreeSet<String> {
            statements
                .iter()
                .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str().map(String::from))
                .collect()
        };
        let mut expected = actions(&all);
        assert!(expected.remove("sqs:SendMessage") && expected.remove("sqs:SendMessageBatch"));
        assert_eq!(actions(&short), expected);
        // SumArrayFunction's only queue statement is the fan-out's: nothing left of it.
        assert_eq!(short.len(), all.len() - 1, "{short:?}");
    }

    #[test]
    fn form_encoding_and_xml() {
        assert_eq!(
            form_encoded(&[("A", "x y"), ("B", "{\"k\":[1]}")]),
            "A=x%20y&B=%7B%22k%22%3A%5B1%5D%7D"
        );
        assert_eq!(
            xml_text("<R><AccessKeyId>AKIA1</AccessKeyId></R>", "AccessKeyId").as_deref(),
            Some("AKIA1")
        );
        assert_eq!(xml_text("<R/>", "AccessKeyId"), None);
    }
}
