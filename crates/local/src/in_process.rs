//! The API's Router called in process, as API Gateway calls the `sum_array`
//! function: no HTTP server, no port to pick.

use crate::{Error, Running};
use axum::body::{to_bytes, Body};
use axum::Router;
use http::{Method, Request};
use tower::ServiceExt;

/// The API's Router over a running local pipeline. Reads go to a Router
/// over the client's ports, so `bench` counts only the pipeline's own work
/// (`Running::ports`), as on Lambda.
pub struct InProcess {
    submit: Router,
    read: Router,
}

impl InProcess {
    pub fn new(running: &Running) -> InProcess {
        let config = running.api_config.clone();
        InProcess {
            submit: handlers::router(running.ports.clone(), config.clone()),
            read: handlers::router(running.client_ports.clone(), config),
        }
    }

    /// One request: (status, body text).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), Error> {
        let router = if method == Method::GET {
            &self.read
        } else {
            &self.submit
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(body.map_or_else(Body::empty, Body::from))
            .map_err(|e| Error::Request {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let Ok(response) = router.clone().oneshot(request).await;
        let status = response.status().as_u16();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| Error::Answer {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}
