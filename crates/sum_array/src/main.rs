//! `sum_array`: the API Lambda. Reads its settings, builds the AWS ports once
//! per cold start, and hands each request to `handlers::handle_api`. A refused
//! setting is reported to Lambda's `/runtime/init/error` (`handlers::lambda`).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_lambda_tracing();
    let config = handlers::lambda::init_or_report(pipeline::Config::from_env()).await?;
    let ports = aws_ports::ports_from_env().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayProxyRequest>| {
        let (ports, config) = (&ports, &config);
        async move {
            Ok::<ApiGatewayProxyResponse, Error>(
                handlers::handle_api(ports, config, &event.payload).await,
            )
        }
    }))
    .await
}
