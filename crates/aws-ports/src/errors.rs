//! The one place where AWS failures become [`PortError`]s.
//!
//! The steps decide whether to retry from the kind alone: `Throttled` and
//! `Unavailable` are worth another try (the SDK has already retried them a
//! few times), `Rejected` never is. So the mapping must never call a
//! transient failure `Rejected`, nor a request that can never succeed
//! transient.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use pipeline::PortError;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};

/// Codes that mean "slow down" besides the SDK's own list
/// ([`THROTTLING_ERRORS`]): DynamoDB's per-partition throttle and the KMS
/// key behind SSE.
const MORE_THROTTLING_CODES: &[&str] = &[
    "KeyRangeThroughputExceededException",
    "KMS.ThrottlingException",
];

/// Codes of a service-side failure besides the SDK's own transient list
/// ([`TRANSIENT_ERRORS`]), whatever the status says.
const MORE_UNAVAILABLE_CODES: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// HTTP statuses worth a retry whatever the code: the server's errors, and
/// 408 Request Timeout, which the SDK retries too.
fn transient_status(status: u16) -> bool {
    status >= 500 || status == 408
}

/// Kind of failure of an error `code` (and the HTTP `status`, when there is one).
pub(crate) fn kind_of(code: &str, status: Option<u16>, message: String) -> PortError {
    if THROTTLING_ERRORS.contains(&code) || MORE_THROTTLING_CODES.contains(&code) {
        PortError::Throttled(message)
    } else if TRANSIENT_ERRORS.contains(&code)
        || MORE_UNAVAILABLE_CODES.contains(&code)
        || status.is_some_and(transient_status)
    {
        PortError::Unavailable(message)
    } else {
        PortError::Rejected(message)
    }
}

/// A failed SDK call in words, for a person: the service's error code and
/// message, or the chain of causes (`dispatch failure: io error: …:
/// Connection refused`), never the SDK's Debug dump of the response.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(_) = err {
        let code = err.code().unwrap_or("Unknown");
        let message = err.message().unwrap_or("no message");
        return format!("{code}: {message}");
    }
    causes(err)
}

/// `err` and each of its sources, in Display form, joined by `: `.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        // Some layers repeat their source's text: say it once.
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Maps a failed SDK call; `what` says what was being done, for the message.
pub fn from_sdk<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = err.code().unwrap_or("Unknown");
            let message = err.message().unwrap_or("no message");
            let status = service.raw().status().as_u16();
            kind_of(code, Some(status), format!("{what}: {code}: {message}"))
        }
        // Nothing was sent: a bad argument of ours, never worth a retry.
        SdkError::ConstructionFailure(_) => {
            PortError::Rejected(format!("{what}: {}", describe(&err)))
        }
        // Timeouts, connection failures and garbled responses: the service or
        // the network may well answer next time.
        _ => PortError::Unavailable(format!("{what}: {}", describe(&err))),
    }
}

/// A builder refused a value we made (a required field left empty).
pub fn from_build(what: &str, err: aws_sdk_dynamodb::error::BuildError) -> PortError {
    PortError::Rejected(format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        let kind = |code, status| kind_of(code, status, String::new());
        assert!(matches!(
            kind("ProvisionedThroughputExceededException", Some(400)),
            PortError::Throttled(_)
        ));
        assert!(matches!(
            kind("ThrottlingException", None),
            PortError::Throttled(_)
        ));
        assert!(matches!(
            kind("InternalServerError", Some(500)),
            PortError::Unavailable(_)
        ));
        assert!(matches!(
            kind("Whatever", Some(503)),
            PortError::Unavailable(_)
        ));
        assert!(matches!(
            kind("InternalError", None),
            PortError::Unavailable(_)
        ));
        // Codes the SDK itself retries, missing from the old hand-made list.
        for code in [
            "PriorRequestNotComplete",
            "BandwidthLimitExceeded",
            "SlowDown",
        ] {
            assert!(
                matches!(kind(code, Some(400)), PortError::Throttled(_)),
                "{code}"
            );
        }
        for (code, status) in [("RequestTimeout", 408), ("RequestTimeoutException", 400)] {
            assert!(
                matches!(kind(code, Some(status)), PortError::Unavailable(_)),
                "{code}"
            );
        }
        assert!(matches!(
            kind("Whatever", Some(408)),
            PortError::Unavailable(_)
        ));
        assert!(matches!(
            kind("KeyRangeThroughputExceededException", Some(400)),
            PortError::Throttled(_)
        ));
        assert!(matches!(
            kind("ResourceNotFoundException", Some(400)),
            PortError::Rejected(_)
        ));
        assert!(matches!(
            kind("ValidationException", Some(400)),
            PortError::Rejected(_)
        ));
    }
}
