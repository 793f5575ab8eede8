//! `adder serve`: the deployed API's behaviour on 127.0.0.1.
//!
//! Every request is turned into the API Gateway event the `sum_array` Lambda
//! receives and answered by the same handler, so routes, limits and errors are
//! the deployed ones.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use pipeline::{Config, Ports};
use std::sync::Arc;

#[derive(Clone)]
struct App {
    ports: Ports,
    config: Config,
}

/// The API's OpenAPI document (`openapi.yaml` at the repository root),
/// compiled in so the binary serves the contract it was built against.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The router: the OpenAPI document, then one catch-all route into
/// `handlers::handle_api`.
pub fn router(ports: Ports, config: Config) -> Router {
    Router::new()
        .route(
            "/openapi.yaml",
            axum::routing::get(|| async {
                reply(200, "application/yaml", OPENAPI_YAML.to_string())
            }),
        )
        .fallback(answer)
        .with_state(Arc::new(App { ports, config }))
}

async fn answer(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Read a little past the limit so the handler, not the server, refuses it.
    let bytes = match to_bytes(body, handlers::MAX_BODY_BYTES + 1).await {
        Ok(b) => b,
        Err(_) => {
            let len = handlers::MAX_BODY_BYTES;
            let body = format!(
                r#"{{"status":"error","error":"the request body is larger than the limit of {len} bytes"}}"#
            );
            return reply(413, "application/json", body);
        }
    };
    let mut event = ApiGatewayProxyRequest::default();
    event.http_method = parts.method.clone();
    event.path = Some(parts.uri.path().to_string());
    event.headers = parts.headers.clone();
    if !bytes.is_empty() {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => event.body = Some(text),
            Err(_) => {
                use base64::Engine;
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(&bytes));
                event.is_base64_encoded = true;
            }
        }
    }
    let response = handlers::handle_api(&app.ports, &app.config, &event).await;
    let mut builder = Response::builder().status(response.status_code as u16);
    for (name, value) in response.headers.iter() {
        builder = builder.header(name, value);
    }
    let body = match response.body {
        Some(LambdaBody::Text(t)) => Body::from(t),
        Some(LambdaBody::Binary(b)) => Body::from(b),
        _ => Body::empty(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| reply(500, "text/plain", "bad response".into()))
}

fn reply(status: u16, content_type: &str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = axum::http::StatusCode::from_u16(status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = axum::http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::memory::MemoryBackend;
    use pipeline::SystemClock;

    #[tokio::test]
    async fn serves_the_openapi_document_and_still_answers_json_404s() {
        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let app = router(backend.ports(), Config::default());
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
        assert_eq!(text, include_str!("../../../openapi.yaml"));
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
