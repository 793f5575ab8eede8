//! Which queues and tables a function talks to, and the ports over them.

use crate::{DynamoScratchpad, DynamoSums, S3Objects, SqsQueue, Unset};
#[cfg(feature = "local")]
use crate::{ReportDenials, RequestCounter};
use aws_config::SdkConfig;
use pipeline::{Ports, Queue, Scratchpad, Sums, SystemClock};
use std::sync::Arc;

pub const TIMES_TWO_QUEUE_URL: &str = "TIMES_TWO_QUEUE_URL";
pub const REDUCE_QUEUE_URL: &str = "REDUCE_QUEUE_URL";
pub const SCRATCHPAD_TABLE: &str = "SCRATCHPAD_TABLE";
pub const SUMS_TABLE: &str = "SUMS_TABLE";
/// The stack's input bucket, as `template.yaml` names it to the functions
/// that read objects; the label of their S3 client in [`ports_recorded`].
pub const INPUT_BUCKET: &str = "INPUT_BUCKET";

/// The deployed names of the queues and tables, as `template.yaml` passes
/// them to the functions. Each function is given only those it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub times_two_queue_url: Option<String>,
    pub reduce_queue_url: Option<String>,
    pub scratchpad_table: Option<String>,
    pub sums_table: Option<String>,
}

impl Names {
    /// Reads `TIMES_TWO_QUEUE_URL`, `REDUCE_QUEUE_URL`, `SCRATCHPAD_TABLE` and
    /// `SUMS_TABLE`; an empty value counts as unset.
    pub fn from_env() -> Names {
        Names::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Names::from_env`], from any source of variables (a map in tests,
    /// the environment a runner gives a function).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Names {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Names {
            times_two_queue_url: get(TIMES_TWO_QUEUE_URL),
            reduce_queue_url: get(REDUCE_QUEUE_URL),
            scratchpad_table: get(SCRATCHPAD_TABLE),
            sums_table: get(SUMS_TABLE),
        }
    }
}

/// The ports for `names`, over one SQS, one DynamoDB and one S3 client
/// (clients are costly to build and safe to share). A name that is not set
/// gets a port whose every call fails with `Rejected("<VAR> is not set for
/// this function")`. The object store has no name: an object array names
/// its bucket, and IAM decides which buckets a function may read.
pub fn ports(sdk: &SdkConfig, names: &Names) -> Ports {
    let c = Clients {
        sqs: aws_sdk_sqs::Client::new(sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        s3: aws_sdk_s3::Client::from_conf(crate::s3_config(sdk).build()),
    };
    assemble(names, |_| c.sqs.clone(), |_| c.dynamodb.clone(), c.s3)
}

/// Like [`ports`], with every SDK request tallied by `counter` (the benchmark).
#[cfg(feature = "local")]
pub fn ports_counted(sdk: &SdkConfig, names: &Names, counter: Option<&RequestCounter>) -> Ports {
    let c = clients(sdk, counter, false);
    assemble(names, |_| c.sqs.clone(), |_| c.dynamodb.clone(), c.s3)
}

/// Like [`ports_counted`], and every request IAM refuses is logged with its
/// action's name ([`ReportDenials`]): the local runner's ports.
#[cfg(feature = "local")]
pub fn ports_reporting_denials(
    sdk: &SdkConfig,
    names: &Names,
    counter: Option<&RequestCounter>,
) -> Ports {
    let c = clients(sdk, counter, true);
    assemble(names, |_| c.sqs.clone(), |_| c.dynamodb.clone(), c.s3)
}

/// One client per service, all with the same interceptors.
struct Clients {
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

#[cfg(feature = "local")]
fn clients(sdk: &SdkConfig, counter: Option<&RequestCounter>, report_denials: bool) -> Clients {
    let mut sqs_config = aws_sdk_sqs::config::Builder::from(sdk);
    let mut dynamodb_config = aws_sdk_dynamodb::config::Builder::from(sdk);
    let mut s3_config = crate::s3_config(sdk);
    if let Some(counter) = counter {
        sqs_config = sqs_config.interceptor(counter.clone());
        dynamodb_config = dynamodb_config.interceptor(counter.clone());
        s3_config = s3_config.interceptor(counter.clone());
    }
    if report_denials {
        sqs_config = sqs_config.interceptor(ReportDenials);
        dynamodb_config = dynamodb_config.interceptor(ReportDenials);
        s3_config = s3_config.interceptor(ReportDenials);
    }
    Clients {
        sqs: aws_sdk_sqs::Client::from_conf(sqs_config.build()),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb_config.build()),
        s3: aws_sdk_s3::Client::from_conf(s3_config.build()),
    }
}

/// Like [`ports`], with one client per queue and table, each recording in
/// `recorder` the IAM actions it needed, labelled with the variable that
/// names its resource (`SUMS_TABLE`, …). The S3 client's label is
/// [`INPUT_BUCKET`]: the bucket the template lets the functions read.
#[cfg(feature = "test-ports")]
pub fn ports_recorded(sdk: &SdkConfig, names: &Names, recorder: &crate::CallRecorder) -> Ports {
    let sqs = |variable: &'static str| {
        let config = aws_sdk_sqs::config::Builder::from(sdk).interceptor(recorder.on(variable));
        aws_sdk_sqs::Client::from_conf(config.build())
    };
    let dynamodb = |variable: &'static str| {
        let config =
            aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(recorder.on(variable));
        aws_sdk_dynamodb::Client::from_conf(config.build())
    };
    let s3_config = crate::s3_config(sdk).interceptor(recorder.on(INPUT_BUCKET));
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
    assemble(names, sqs, dynamodb, s3)
}

/// The ports over the named resources, each with the client `sqs` or
/// `dynamodb` gives for its variable, and the object store over `s3`.
fn assemble(
    names: &Names,
    sqs: impl Fn(&'static str) -> aws_sdk_sqs::Client,
    dynamodb: impl Fn(&'static str) -> aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
) -> Ports {
    let queue = |url: &Option<String>, variable| -> Arc<dyn Queue> {
        match url {
            Some(url) => Arc::new(SqsQueue::new(sqs(variable), url)),
            None => Unset::port::<dyn Queue>(variable),
        }
    };
    let scratchpad: Arc<dyn Scratchpad> = match &names.scratchpad_table {
        Some(table) => Arc::new(DynamoScratchpad::new(dynamodb(SCRATCHPAD_TABLE), table)),
        None => Unset::port::<dyn Scratchpad>(SCRATCHPAD_TABLE),
    };
    let sums: Arc<dyn Sums> = match &names.sums_table {
        Some(table) => Arc::new(DynamoSums::new(dynamodb(SUMS_TABLE), table)),
        None => Unset::port::<dyn Sums>(SUMS_TABLE),
    };
    Ports {
        times_two_queue: queue(&names.times_two_queue_url, TIMES_TWO_QUEUE_URL),
        reduce_queue: queue(&names.reduce_queue_url, REDUCE_QUEUE_URL),
        scratchpad,
        sums,
        objects: Arc::new(S3Objects::new(s3)),
        clock: Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::PortError;
    use std::collections::HashMap;

    #[test]
    fn reads_names_and_treats_empty_as_unset() {
        let env: HashMap<&str, &str> = [
            (REDUCE_QUEUE_URL, "http://q"),
            (SCRATCHPAD_TABLE, "scratch"),
            (SUMS_TABLE, ""),
        ]
        .into();
        let names = Names::from_lookup(|k| env.get(k).map(|v| v.to_string()));
        assert_eq!(
            names,
            Names {
                times_two_queue_url: None,
                reduce_queue_url: Some("http://q".into()),
                scratchpad_table: Some("scratch".into()),
                sums_table: None,
            }
        );
    }

    #[tokio::test]
    async fn a_missing_name_fails_on_use() {
        let sdk = crate::local_sdk_config("http://127.0.0.1:1").await;
        let ports = ports(&sdk, &Names::default());
        assert_eq!(
            ports.sums.get("x").await,
            Err(PortError::Rejected(
                "SUMS_TABLE is not set for this function".into()
            ))
        );
        assert_eq!(
            ports.times_two_queue.send(vec!["b".into()]).await,
            Err(PortError::Rejected(
                "TIMES_TWO_QUEUE_URL is not set for this function".into()
            ))
        );
    }
}
