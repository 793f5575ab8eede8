//! One bucket of the template: created if missing, then set to the
//! template's settings. Every setting is a PUT that replaces the previous
//! one, so provisioning twice leaves the same bucket.

use super::{failed, sdk, ProvisionError};
use aws_ports::from_build;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Event,
    NotificationConfiguration, PublicAccessBlockConfiguration, QueueConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
};
use stack::BucketSpec;

/// The notification event the template allows (`stack` refuses others).
const OBJECT_CREATED: &str = "s3:ObjectCreated:*";

/// Creates bucket `name` unless it exists. Outside us-east-1 S3 wants the
/// region as the location constraint.
pub(super) async fn create(
    s3: &aws_sdk_s3::Client,
    name: &str,
    region: Option<&str>,
) -> Result<(), ProvisionError> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => return Ok(()),
        Err(e) if matches!(e.as_service_error(), Some(HeadBucketError::NotFound(_))) => {}
        Err(e) => return Err(sdk(name, "HeadBucket")(e)),
    }
    let mut request = s3.create_bucket().bucket(name);
    if let Some(region) = region.filter(|r| *r != "us-east-1") {
        let configuration = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build();
        request = request.create_bucket_configuration(configuration);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Created meanwhile by another provisioning of ours.
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateBucketError::BucketAlreadyOwnedByYou(_))
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk(name, "CreateBucket")(e)),
    }
}

/// Versioning, encryption and public access block as `spec` says, and its
/// ObjectCreated notifications to the queue `notified` (an ARN).
pub(super) async fn configure(
    s3: &aws_sdk_s3::Client,
    spec: &BucketSpec,
    name: &str,
    notified: Option<&str>,
) -> Result<(), ProvisionError> {
    if spec.versioned {
        let versioning = VersioningConfiguration::builder()
            .status(BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(versioning)
            .send()
            .await
            .map_err(sdk(name, "PutBucketVersioning"))?;
    }
    if spec.encrypted {
        encrypt(s3, name).await?;
    }
    if spec.public_access_blocked {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(sdk(name, "PutPublicAccessBlock"))?;
    }
    notify(s3, name, notified).await
}

/// Default SSE-S3 (AES256), as the template's `BucketEncryption`.
async fn encrypt(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), ProvisionError> {
    let build = |e| {
        failed(
            name,
            "PutBucketEncryption",
            from_build("PutBucketEncryption", e),
        )
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(build)?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(build)?;
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map_err(sdk(name, "PutBucketEncryption"))?;
    Ok(())
}

/// Replaces the bucket's notifications with ObjectCreated to `queue_arn`
/// (none when `None`). S3, and moto, then send the queue an `s3:TestEvent`.
async fn notify(
    s3: &aws_sdk_s3::Client,
    name: &str,
    queue_arn: Option<&str>,
) -> Result<(), ProvisionError> {
    let action = "PutBucketNotificationConfiguration";
    let mut configuration = NotificationConfiguration::builder();
    if let Some(arn) = queue_arn {
        let queue = QueueConfiguration::builder()
            .queue_arn(arn)
            .events(Event::from(OBJECT_CREATED))
            .build()
            .map_err(|e| failed(name, action, from_build(action, e)))?;
        configuration = configuration.queue_configurations(queue);
    }
    s3.put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(configuration.build())
        .send()
        .await
        .map_err(sdk(name, action))?;
    Ok(())
}
