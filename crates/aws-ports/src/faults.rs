//! An SDK interceptor that loses answers, for tests: the request reaches the
//! service and takes effect, but the client sees a 500 instead of the reply,
//! so the SDK retries a write that already applied. moto and the in-process
//! ports never do this by themselves; AWS does (a dropped connection, a
//! timeout after the write).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Replaces the answers of the next `count` attempts of `operation` (e.g.
/// `"PutItem"`) with an internal server error. Clones share the count.
#[derive(Debug, Clone)]
pub struct LoseAnswers {
    operation: &'static str,
    left: Arc<AtomicU32>,
}

impl LoseAnswers {
    pub fn new(operation: &'static str, count: u32) -> LoseAnswers {
        LoseAnswers {
            operation,
            left: Arc::new(AtomicU32::new(count)),
        }
    }

    /// Answers still to be lost.
    pub fn left(&self) -> u32 {
        self.left.load(Ordering::SeqCst)
    }
}

impl Intercept for LoseAnswers {
    fn name(&self) -> &'static str {
        "LoseAnswers"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().map(Metadata::name) != Some(self.operation) {
            return Ok(());
        }
        let lose = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lose {
            let response = context.response_mut();
            *response.status_mut() = StatusCode::try_from(500)?;
            *response.body_mut() = SdkBody::from(
                r#"{"__type":"InternalServerError","message":"injected: the answer was lost"}"#,
            );
        }
        Ok(())
    }
}
