//! `sum_array`: the API Lambda. Reads its settings, builds the AWS ports once
//! per cold start, and serves `handlers::router` with `lambda_http`, which
//! turns each API Gateway REST event into an `http` request (base64 bodies
//! decoded, the request context in its extensions) and the answer back.
//! A refused setting is reported to Lambda's `/runtime/init/error`
//! (`handlers::lambda`).
//!
//! template.yaml sets `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`: a REST event's
//! path is the resource path (`/sumArray`), and without it `lambda_http`
//! prefixes the stage (`/prod/sumArray`), which no route matches.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    handlers::init_lambda_tracing();
    let config =
        handlers::lambda::init_or_report(pipeline::Config::from_env(jobs::registry())).await?;
    let ports = aws_ports::ports_from_env().await;
    lambda_http::run(handlers::router(ports, config)).await
}
