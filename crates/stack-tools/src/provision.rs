//! Creates the queues, tables and buckets of a [`Stack`] (on moto, or on an
//! account without CloudFormation), so the local runner and the tests use
//! exactly what `template.yaml` declares.
//!
//! A bucket gets its versioning, default encryption, public access block and
//! its ObjectCreated notifications to its queue. Not made here: the queue
//! policy that lets S3 send to that queue (moto does not check it; on AWS,
//! PutBucketNotificationConfiguration fails without it, so deploy with
//! CloudFormation there) and the lifecycle rule.
//!
//! Idempotent: what exists is reused and brought to the template's settings,
//! so a runner can provision on every start.

use aws_config::SdkConfig;
use aws_ports::{from_build, from_sdk, Names};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use pipeline::PortError;
use stack::{AttributeType, QueueSpec, Stack, StackError, TableSpec};
use stack_names as ids;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long a new table may take to become ACTIVE (seconds on AWS, at once on moto).
const TABLE_ACTIVE_WITHIN: Duration = Duration::from_secs(300);
const TABLE_POLL: Duration = Duration::from_millis(500);

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{resource}: {error}")]
    Aws {
        resource: String,
        action: &'static str,
        error: PortError,
    },
    #[error("table {table} was not ACTIVE after {waited:?}")]
    NotActive { table: String, waited: Duration },
    #[error("function {0} is not in the template")]
    UnknownFunction(String),
    #[error("bucket {bucket}: its notification queue {queue} was not provisioned")]
    NoNotificationQueue { bucket: String, queue: String },
    #[error(transparent)]
    Stack(#[from] StackError),
}

/// What [`provision`] made: deployed names by logical id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioned {
    pub queue_urls: BTreeMap<String, String>,
    pub table_names: BTreeMap<String, String>,
    pub bucket_names: BTreeMap<String, String>,
}

impl Provisioned {
    /// The environment CloudFormation would give `function`: `!Ref` to a queue
    /// is its URL, to a table or a bucket its name, to a parameter its default.
    pub fn function_env(
        &self,
        stack: &Stack,
        function: &str,
    ) -> Result<BTreeMap<String, String>, ProvisionError> {
        let spec = stack
            .function(function)
            .ok_or_else(|| ProvisionError::UnknownFunction(function.to_string()))?;
        Ok(stack.resolve_env(spec, |id| {
            self.queue_urls
                .get(id)
                .or_else(|| self.table_names.get(id))
                .or_else(|| self.bucket_names.get(id))
                .cloned()
        })?)
    }

    /// All four names, for a process that plays every function (the runner).
    pub fn names(&self) -> Names {
        Names {
            times_two_queue_url: self.queue_urls.get(ids::TIMES_TWO_QUEUE).cloned(),
            reduce_queue_url: self.queue_urls.get(ids::REDUCE_QUEUE).cloned(),
            scratchpad_table: self.table_names.get(ids::SCRATCHPAD_TABLE).cloned(),
            sums_table: self.table_names.get(ids::SUMS_TABLE).cloned(),
        }
    }
}

/// Creates whatever of `stack`'s queues, tables and buckets is missing, named
/// `{prefix}-{LogicalId}` (buckets lowercased: [`stack_names::local_bucket_name`]),
/// and brings existing ones to the template's settings.
pub async fn provision(
    stack: &Stack,
    sdk: &SdkConfig,
    prefix: &str,
) -> Result<Provisioned, ProvisionError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let mut out = Provisioned::default();
    let mut arns: HashMap<String, String> = HashMap::new();
    for spec in stack.queues_in_creation_order() {
        let name = format!("{prefix}-{}", spec.logical_id);
        let (url, arn) = queue(&sqs, spec, &name, &arns).await?;
        arns.insert(spec.logical_id.clone(), arn);
        out.queue_urls.insert(spec.logical_id.clone(), url);
    }
    for spec in &stack.tables {
        let name = format!("{prefix}-{}", spec.logical_id);
        table(&dynamodb, spec, &name).await?;
        out.table_names.insert(spec.logical_id.clone(), name);
    }
    // An emulator's endpoint (moto on localhost) has no per-bucket host names.
    let s3_config =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some());
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
    let region = sdk.region().map(|r| r.as_ref().to_string());
    for spec in &stack.buckets {
        let name = ids::local_bucket_name(prefix, &spec.logical_id);
        let notified = match &spec.object_created_queue {
            None => None,
            Some(queue) => {
                Some(
                    arns.get(queue)
                        .ok_or_else(|| ProvisionError::NoNotificationQueue {
                            bucket: spec.logical_id.clone(),
                            queue: queue.clone(),
                        })?,
                )
            }
        };
        bucket::create(&s3, &name, region.as_deref()).await?;
        bucket::configure(&s3, spec, &name, notified.map(String::as_str)).await?;
        out.bucket_names.insert(spec.logical_id.clone(), name);
    }
    Ok(out)
}

mod bucket;

/// A failure of `action` on `resource`.
pub(super) fn failed(resource: &str, action: &'static str, error: PortError) -> ProvisionError {
    ProvisionError::Aws {
        resource: resource.to_string(),
        action,
        error,
    }
}

/// Maps a failed SDK call of `action` on `resource`.
pub(super) fn sdk<'a, E>(
    resource: &'a str,
    action: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> ProvisionError + 'a
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| failed(resource, action, from_sdk(action, e))
}

/// Makes one queue; returns its URL and ARN.
async fn queue(
    sqs: &aws_sdk_sqs::Client,
    spec: &QueueSpec,
    name: &str,
    arns: &HashMap<String, String>,
) -> Result<(String, String), ProvisionError> {
    let mut attributes = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout.as_secs().to_string(),
        ),
        (
            QueueAttributeName::MessageRetentionPeriod,
            spec.retention.as_secs().to_string(),
        ),
        (
            QueueAttributeName::MaximumMessageSize,
            spec.maximum_message_size.to_string(),
        ),
    ]);
    if let Some(redrive) = &spec.redrive {
        // Creation order puts every dead-letter queue first, so this is there.
        let target = arns.get(&redrive.dead_letter).ok_or_else(|| {
            failed(
                name,
                "RedrivePolicy",
                PortError::Rejected(format!(
                    "dead-letter queue {} was not created first",
                    redrive.dead_letter
                )),
            )
        })?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": target,
            "maxReceiveCount": redrive.max_receive_count,
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }

    let existing = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url().map(str::to_string),
        Err(e) => match e.as_service_error() {
            Some(GetQueueUrlError::QueueDoesNotExist(_)) => None,
            _ => return Err(sdk(name, "GetQueueUrl")(e)),
        },
    };
    let url = match existing {
        Some(url) => {
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(sdk(name, "SetQueueAttributes"))?;
            url
        }
        None => sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(sdk(name, "CreateQueue"))?
            .queue_url()
            .map(str::to_string)
            .ok_or_else(|| {
                failed(
                    name,
                    "CreateQueue",
                    PortError::Rejected("no QueueUrl returned".into()),
                )
            })?,
    };

    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sdk(name, "GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| {
            failed(
                name,
                "GetQueueAttributes",
                PortError::Rejected("no QueueArn returned".into()),
            )
        })?;
    Ok((url, arn))
}

/// The status of a table, `None` if it does not exist.
async fn table_status(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<TableStatus>, ProvisionError> {
    match dynamodb.describe_table().table_name(name).send().await {
        Ok(out) => Ok(Some(
            out.table()
                .and_then(|t| t.table_status())
                .cloned()
                .unwrap_or(TableStatus::Creating),
        )),
        Err(e) => match e.as_service_error() {
            Some(DescribeTableError::ResourceNotFoundException(_)) => Ok(None),
            _ => Err(sdk(name, "DescribeTable")(e)),
        },
    }
}

fn scalar_type(t: AttributeType) -> ScalarAttributeType {
    match t {
        AttributeType::S => ScalarAttributeType::S,
        AttributeType::N => ScalarAttributeType::N,
        AttributeType::B => ScalarAttributeType::B,
    }
}

/// Makes one table, waits for it to be ACTIVE and enables its TTL.
async fn table(
    dynamodb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
) -> Result<(), ProvisionError> {
    if table_status(dynamodb, name).await?.is_none() {
        let build = |e| failed(name, "CreateTable", from_build("CreateTable", e));
        let mut request = dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest);
        let keys = [
            (Some(&spec.hash_key), KeyType::Hash),
            (spec.range_key.as_ref(), KeyType::Range),
        ];
        for (key, kind) in keys {
            let Some(key) = key else { continue };
            // Parsing checked that every key attribute has a type.
            let attribute_type = spec
                .attributes
                .get(key)
                .copied()
                .unwrap_or(AttributeType::S);
            request = request
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(key)
                        .attribute_type(scalar_type(attribute_type))
                        .build()
                        .map_err(build)?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(key)
                        .key_type(kind)
                        .build()
                        .map_err(build)?,
                );
        }
        match request.send().await {
            Ok(_) => {}
            // Someone else created it meanwhile: wait for theirs.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) => {}
            Err(e) => return Err(sdk(name, "CreateTable")(e)),
        }
    }

    let started = Instant::now();
    loop {
        if table_status(dynamodb, name).await? == Some(TableStatus::Active) {
            break;
        }
        if started.elapsed() > TABLE_ACTIVE_WITHIN {
            return Err(ProvisionError::NotActive {
                table: name.to_string(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(TABLE_POLL).await;
    }

    if let Some(attribute) = &spec.ttl_attribute {
        let current = dynamodb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(sdk(name, "DescribeTimeToLive"))?;
        let description = current.time_to_live_description();
        let enabled = description.and_then(|d| d.time_to_live_status())
            == Some(&TimeToLiveStatus::Enabled)
            && description.and_then(|d| d.attribute_name()) == Some(attribute.as_str());
        if !enabled {
            let ttl = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(|e| failed(name, "UpdateTimeToLive", from_build("UpdateTimeToLive", e)))?;
            dynamodb
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(sdk(name, "UpdateTimeToLive"))?;
        }
    }
    Ok(())
}
