//! `reduce`: the merge Lambda, fed by ReduceQueue. Reads its settings, builds the AWS
//! ports once per cold start, and hands each batch to `handlers::handle_reduce`,
//! which reports failed messages one by one (ReportBatchItemFailures). A refused
//! setting is reported to Lambda's `/runtime/init/error` (`handlers::lambda`).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_lambda_tracing();
    let config =
        handlers::lambda::init_or_report(pipeline::Config::from_env(jobs::registry())).await?;
    let ports = aws_ports::ports_from_env().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (ports, config) = (&ports, &config);
        async move {
            Ok::<SqsBatchResponse, Error>(
                handlers::handle_reduce(
                    ports,
                    config,
                    &event.payload,
                    handlers::lambda::live_deadline(event.context.deadline),
                )
                .await,
            )
        }
    }))
    .await
}
