//! The object store port over S3: HeadObject and ranged GetObject, each
//! pinned to the version or ETag seen at submission.

use crate::errors::{from_sdk, kind_of};
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use packet::ObjectRef;
use pipeline::{ObjectBody, ObjectError, ObjectInfo, Objects, PortError};

/// [`Objects`] on S3 (or moto).
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
}

impl S3Objects {
    pub fn new(client: aws_sdk_s3::Client) -> S3Objects {
        S3Objects { client }
    }
}

/// The S3 client configuration for `sdk`. With an endpoint override (moto)
/// requests are path-style: virtual-hosted ones would go to
/// `<bucket>.<host>`, which no name server knows for `localhost` or a
/// container's name (the SDK itself falls back to path-style only for an IP
/// address). AWS itself gets the SDK's default.
pub fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some())
}

/// The ETag a request must match: none when a version id pins the object.
fn if_match(object: &ObjectRef) -> Option<String> {
    match object.version_id {
        Some(_) => None,
        None => object.etag.clone(),
    }
}

#[async_trait]
impl Objects for S3Objects {
    async fn head(&self, object: &ObjectRef) -> Result<ObjectInfo, ObjectError> {
        let output = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .set_if_match(if_match(object))
            .send()
            .await
            .map_err(|e| object_error("HeadObject", object, e))?;
        let size = output
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                PortError::Unavailable(format!("HeadObject {object}: no Content-Length"))
            })?;
        Ok(ObjectInfo {
            size,
            etag: output.e_tag().map(str::to_string),
            version_id: output.version_id().map(str::to_string),
        })
    }

    async fn read_from(&self, object: &ObjectRef, from: u64) -> Result<ObjectBody, ObjectError> {
        let output = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .set_if_match(if_match(object))
            .range(format!("bytes={from}-"))
            .send()
            .await
            .map_err(|e| object_error("GetObject", object, e))?;
        check_range(object, from, output.content_range())?;
        Ok(ObjectBody::Stream(Box::pin(output.body.into_async_read())))
    }
}

/// A server that ignored the Range header would send the object from its
/// first byte, and the range's records would be counted twice: refuse any
/// answer that does not start at `from` (a whole object is fine from 0).
fn check_range(
    object: &ObjectRef,
    from: u64,
    content_range: Option<&str>,
) -> Result<(), ObjectError> {
    let expected = format!("bytes {from}-");
    match content_range {
        Some(r) if r.starts_with(&expected) => Ok(()),
        None if from == 0 => Ok(()),
        other => Err(PortError::Unavailable(format!(
            "GetObject {object}: asked for bytes={from}-, answered Content-Range {other:?}"
        ))
        .into()),
    }
}

/// Maps a failed HeadObject or GetObject. A HEAD error has no body, hence no
/// code: the HTTP status decides.
fn object_error<E>(what: &str, object: &ObjectRef, err: SdkError<E, HttpResponse>) -> ObjectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let what = format!("{what} {object}");
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("Unknown");
            let message = err.message().unwrap_or("no message");
            let text = format!("{what}: HTTP {status} {code}: {message}");
            by_status_and_code(object, status, code, message, text)
        }
        _ => from_sdk(&what, err).into(),
    }
}

/// What an S3 error answer means for a read of `object`. The codes come
/// first: a GetObject 403 may be an archived object or a KMS key's refusal,
/// which no s3:GetObject grant cures. A HEAD error has neither code nor
/// message: its status alone speaks.
fn by_status_and_code(
    object: &ObjectRef,
    status: u16,
    code: &str,
    message: &str,
    text: String,
) -> ObjectError {
    let about = || object.to_string();
    match (status, code) {
        (_, "InvalidObjectState") => ObjectError::Archived(about()),
        (_, "AccessDenied") if by_kms(message) => ObjectError::KeyDenied(about()),
        (_, code) if code.starts_with("KMS.") && !code.ends_with("ThrottlingException") => {
            ObjectError::KeyDenied(about())
        }
        (404, _) | (_, "NoSuchKey" | "NotFound" | "NoSuchVersion" | "NoSuchBucket") => {
            ObjectError::NotFound(about())
        }
        // Not "gone": in a versioned bucket a missing version is a 404. A
        // 400 is a version id S3 finds invalid (any id in an unversioned
        // bucket) or an SSE-C object read without its key: it never passes.
        (400, "InvalidArgument" | "Unknown" | "BadRequest") => ObjectError::Refused(about()),
        (403, _) | (_, "AccessDenied") => ObjectError::Forbidden(about()),
        (412, _) | (_, "PreconditionFailed") => ObjectError::Changed(object.to_string()),
        // S3 asks to slow down with a 503 (SlowDown), without a code on HEAD.
        (503, _) => PortError::Throttled(text).into(),
        _ => kind_of(code, Some(status), text).into(),
    }
}

/// Whether an AccessDenied comes from KMS (the key's policy or a missing
/// kms:Decrypt) rather than from S3's own policies. S3 says so only in its
/// message: "... not authorized to perform: kms:Decrypt ..." or "The
/// ciphertext refers to a customer master key that does not exist ... or
/// you are not allowed to access".
fn by_kms(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("kms") || message.contains("customer master key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::head_object::HeadObjectError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn object() -> ObjectRef {
        ObjectRef {
            bucket: "in".into(),
            key: "k".into(),
            version_id: None,
            etag: Some("\"e\"".into()),
        }
    }

    /// A HeadObject error as the SDK gives it: a status, and no code.
    fn head_failure(status: u16) -> ObjectError {
        head_failure_of(&object(), status)
    }

    fn head_failure_of(object: &ObjectRef, status: u16) -> ObjectError {
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("a status"),
            SdkBody::empty(),
        );
        let err = HeadObjectError::generic(ErrorMetadata::builder().build());
        object_error("HeadObject", object, SdkError::service_error(err, raw))
    }

    #[test]
    fn a_head_error_is_judged_by_its_status() {
        let o = object().to_string();
        assert_eq!(head_failure(404), ObjectError::NotFound(o.clone()));
        assert_eq!(head_failure(403), ObjectError::Forbidden(o.clone()));
        assert_eq!(head_failure(412), ObjectError::Changed(o));
        assert!(matches!(
            head_failure(503),
            ObjectError::Port(PortError::Throttled(_))
        ));
        for status in [500, 502] {
            assert!(matches!(
                head_failure(status),
                ObjectError::Port(PortError::Unavailable(_))
            ));
        }
        assert!(matches!(
            head_failure(416),
            ObjectError::Port(PortError::Rejected(_))
        ));
    }

    /// A 400 to HEAD of a version is neither "gone" (skipped without a
    /// record) nor worth a retry: an invalid version id, or an SSE-C object.
    #[test]
    fn a_head_400_is_refused_not_gone() {
        let mut versioned = object();
        versioned.version_id = Some("v".into());
        assert_eq!(
            head_failure_of(&versioned, 400),
            ObjectError::Refused(versioned.to_string())
        );
        assert_eq!(
            head_failure(400),
            ObjectError::Refused(object().to_string())
        );
    }

    /// GetObject 403s that no s3:GetObject grant cures name their cause.
    #[test]
    fn an_archived_object_or_a_kms_refusal_is_not_a_missing_grant() {
        let o = object().to_string();
        let judge = |status, code, message| {
            by_status_and_code(&object(), status, code, message, String::new())
        };
        assert_eq!(
            judge(
                403,
                "InvalidObjectState",
                "The operation is not valid for the object's storage class"
            ),
            ObjectError::Archived(o.clone())
        );
        for message in [
            "User: arn:aws:sts::123456789012:assumed-role/f/x is not authorized to perform: \
             kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/k",
            "The ciphertext refers to a customer master key that does not exist, does not \
             exist in this region, or you are not allowed to access.",
        ] {
            assert_eq!(
                judge(403, "AccessDenied", message),
                ObjectError::KeyDenied(o.clone()),
                "{message}"
            );
        }
        assert_eq!(
            judge(400, "KMS.DisabledException", "key disabled"),
            ObjectError::KeyDenied(o.clone())
        );
        assert!(matches!(
            judge(400, "KMS.ThrottlingException", "slow down"),
            ObjectError::Port(PortError::Throttled(_))
        ));
        assert_eq!(
            judge(403, "AccessDenied", "Access Denied"),
            ObjectError::Forbidden(o)
        );
    }

    #[test]
    fn a_get_error_is_judged_by_its_code() {
        let kind = |status, code| by_status_and_code(&object(), status, code, "", String::new());
        let o = object().to_string();
        for code in ["NoSuchKey", "NoSuchVersion", "NoSuchBucket"] {
            assert_eq!(kind(404, code), ObjectError::NotFound(o.clone()));
        }
        assert_eq!(kind(403, "AccessDenied"), ObjectError::Forbidden(o.clone()));
        let mut versioned = object();
        versioned.version_id = Some("v".into());
        assert_eq!(
            by_status_and_code(&versioned, 400, "InvalidArgument", "", String::new()),
            ObjectError::Refused(versioned.to_string())
        );
        assert_eq!(kind(412, "PreconditionFailed"), ObjectError::Changed(o));
        assert_eq!(
            kind(416, "InvalidRange"),
            ObjectError::Port(PortError::Rejected(String::new()))
        );
        assert_eq!(
            kind(503, "SlowDown"),
            ObjectError::Port(PortError::Throttled(String::new()))
        );
        assert_eq!(
            kind(500, "InternalError"),
            ObjectError::Port(PortError::Unavailable(String::new()))
        );
    }

    #[test]
    fn an_answer_from_another_offset_is_refused() {
        let o = object();
        assert_eq!(check_range(&o, 5, Some("bytes 5-9/10")), Ok(()));
        assert_eq!(check_range(&o, 0, None), Ok(()));
        assert!(check_range(&o, 5, None).is_err());
        assert!(check_range(&o, 5, Some("bytes 0-9/10")).is_err());
        assert!(check_range(&o, 5, Some("bytes 50-59/60")).is_err());
    }

    #[test]
    fn a_version_id_pins_instead_of_the_etag() {
        let mut o = object();
        assert_eq!(if_match(&o).as_deref(), Some("\"e\""));
        o.version_id = Some("v1".into());
        assert_eq!(if_match(&o), None);
    }
}
