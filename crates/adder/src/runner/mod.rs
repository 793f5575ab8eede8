//! The local runner's commands: `adder sum` runs one array through the
//! pipeline on this machine (the `local` crate's platform, in process or
//! against SQS/DynamoDB APIs with `--backend aws`), `adder serve` serves the
//! API's Router over HTTP in front of it. [`files`]: `adder sum --file`.

pub mod files;
pub mod prefix;

use crate::error::Error;
use crate::input;
use crate::submit::{submit_and_wait, Wait};
use local::{BackendArgs, InProcess};
use std::time::Duration;

/// The template the runner builds its queues, tables and functions from:
/// the template.yaml `adder` was built with, or the file `ADDER_TEMPLATE`
/// names (to try a setting such as a mapping's `BatchSize`, which is no
/// environment variable, without rebuilding).
pub fn load_stack() -> Result<stack::Stack, Error> {
    match std::env::var_os("ADDER_TEMPLATE") {
        None => Ok(stack::Stack::embedded()?),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Input(format!("ADDER_TEMPLATE={}: {e}", path.to_string_lossy()))
            })?;
            Ok(stack::Stack::parse(&text)?)
        }
    }
}

/// `adder sum`: the array through the whole pipeline; prints its sum (or
/// `job`'s result).
pub async fn sum(
    input: &input::Numbers,
    job: &packet::job::JobSpec,
    timeout: Duration,
    args: BackendArgs,
    json: bool,
) -> Result<(), Error> {
    let body = input.body().map_err(Error::Input)?;
    let stack = load_stack()?;
    let running = local::start(&args, &stack).await?;
    // Reads are in process and cheap: poll often, without a progress bar.
    let how = Wait {
        timeout,
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(5),
        progress: false,
    };
    let done = {
        let api = InProcess::new(&running);
        interruptible(submit_and_wait(&api, body, job, &how)).await
    };
    running.stop().await;
    done?.1.print(json);
    Ok(())
}

/// `work`, unless the user presses Ctrl-C first: either way the caller
/// then stops its runner, which gives back the messages it holds.
pub async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::select! {
        done = work => done,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    }
}

/// `adder serve`: the API's Router on `address` until Ctrl-C.
pub async fn serve(address: std::net::SocketAddr, args: BackendArgs) -> Result<(), Error> {
    let stack = load_stack()?;
    let running = local::start(&args, &stack).await?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { address, source })?;
    println!(
        "listening on http://{bound} ({} backend)",
        args.backend.display_name()
    );
    let app = handlers::router(running.ports.clone(), running.api_config.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(Error::Serve);
    running.stop().await;
    served
}

#[cfg(test)]
mod tests {
    use pipeline::memory::MemoryBackend;
    use pipeline::{Config, SystemClock};
    use std::sync::Arc;

    #[tokio::test]
    async fn serves_the_openapi_document_and_still_answers_json_404s() {
        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let app = handlers::router(backend.ports(), Config::default());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let response = client
            .get(format!("{base}/openapi.yaml"))
            .send()
            .await
            .expect("GET /openapi.yaml");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("application/yaml")
        );
        let text = response.text().await.expect("text");
        assert_eq!(text, include_str!("../../../../openapi.yaml"));
        assert!(text.contains("/sumArray") && text.contains("/sums/{arrayId}"));
        let response = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 404, "other paths still reach the API");
        server.abort();
    }
}
