//! A Lambda Runtime API for tests: runs a function's real `bootstrap` the way
//! Lambda does, and invokes it.
//!
//! [`Function::start`] serves the Runtime API (version 2018-06-01) on a free
//! loopback port and spawns the binary with the environment Lambda gives a
//! function (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, memory,
//! version, log group and stream, region, credentials) plus the caller's,
//! nothing inherited from the test process. Caller's keys
//! (`AWS_ACCESS_KEY_ID`) replace Lambda's role credentials as a whole: an
//! IAM user's long-term keys carry no session token, and moto refuses a
//! user's key sent with one (`InvalidToken`). The binary long-polls
//! `GET /runtime/invocation/next`; [`Function::invoke`] queues an event for it
//! and waits for its `POST …/response` or `POST …/error`, within the function's
//! timeout. A binary that cannot start should `POST /runtime/init/error` and
//! exit: [`Function::init_error`] returns what it posted.
//!
//! Like Lambda, it hands out one event at a time, with the headers the runtime
//! reads: `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (now +
//! the function's timeout), `Lambda-Runtime-Invoked-Function-Arn` and
//! `Lambda-Runtime-Trace-Id`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// The account and region of the ARNs this emulator makes up.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// How long past its timeout an invocation may take to answer before
/// [`Function::invoke`] gives up (Lambda would have killed the function).
const GRACE: Duration = Duration::from_secs(2);

/// What runs, and what Lambda would give it.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The `bootstrap` executable.
    pub binary: PathBuf,
    /// `AWS_LAMBDA_FUNCTION_NAME`, also in the ARN and the log group.
    pub name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// The function's timeout: each event's deadline is now + this.
    pub timeout: Duration,
    /// The function's own variables (the template's), overriding Lambda's.
    pub env: BTreeMap<String, String>,
    /// A fixed `Lambda-Runtime-Deadline-Ms` instead of now + timeout, to run
    /// as another emulator does (`cargo lambda watch` sends 600000).
    pub fixed_deadline_ms: Option<u64>,
}

/// What a function posted to `/runtime/init/error`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub error_type: Option<String>,
    /// The posted body (`{"errorType": …, "errorMessage": …}`).
    pub body: Value,
}

/// Why an invocation has no response.
#[derive(Debug)]
pub enum InvokeError {
    /// The function posted `/invocation/{id}/error`.
    Function {
        error_type: Option<String>,
        body: Value,
    },
    /// The function could not start: what it posted to `/init/error`.
    Init(InitError),
    /// The process ended without answering.
    Exited(ExitStatus),
    /// No answer within the function's timeout (plus a little grace).
    TimedOut(Duration),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Function { error_type, body } => {
                write!(f, "the function failed ({error_type:?}): {body}")
            }
            InvokeError::Init(e) => write!(f, "init failed ({:?}): {}", e.error_type, e.body),
            InvokeError::Exited(status) => write!(f, "the process exited ({status}) unanswered"),
            InvokeError::TimedOut(after) => write!(f, "no answer within {after:?}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// How an invocation ended, as posted by the function.
#[derive(Debug)]
enum Outcome {
    Response(Value),
    Error {
        error_type: Option<String>,
        body: Value,
    },
}

struct Queued {
    request_id: String,
    trace_id: String,
    event: Vec<u8>,
    deadline_ms: u128,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct RuntimeState {
    queued: VecDeque<Queued>,
    /// Handed out by `/next`, waiting for the function's answer.
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    init_error: Option<InitError>,
    first_next: Option<Instant>,
}

struct Shared {
    state: Mutex<RuntimeState>,
    /// Wakes the long-polling `/next` when an event is queued.
    queued: Notify,
    function_arn: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, RuntimeState> {
        // A panicking handler cannot leave State half-updated: every update is one statement.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A function's process under the emulated Runtime API. Both stop when dropped.
pub struct Function {
    config: FunctionConfig,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    child: Child,
    exit: Option<ExitStatus>,
    spawned_at: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    invocations: u64,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        // notify_one stores a permit when nobody waits, so an event queued
        // between the check and the await is not missed.
        let woken = shared.queued.notified();
        let event = {
            let mut state = shared.lock();
            state.first_next.get_or_insert_with(Instant::now);
            let event = state.queued.pop_front();
            if let Some(e) = event {
                state.in_flight.insert(e.request_id.clone(), e.reply);
                Some((e.request_id, e.trace_id, e.event, e.deadline_ms))
            } else {
                None
            }
        };
        if let Some((request_id, trace_id, event, deadline_ms)) = event {
            let headers = [
                ("lambda-runtime-aws-request-id", request_id),
                ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    shared.function_arn.clone(),
                ),
                ("lambda-runtime-trace-id", trace_id),
                ("content-type", "application/json".to_string()),
            ];
            let mut response = event.into_response();
            for (name, value) in headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            return response;
        }
        woken.await;
    }
}

fn finish(shared: &Shared, request_id: &str, outcome: Outcome) -> Response {
    let Some(reply) = shared.lock().in_flight.remove(request_id) else {
        return (
            StatusCode::BAD_REQUEST,
            "unknown or already answered request id",
        )
            .into_response();
    };
    // The invoker may have given up (timeout); the answer then goes nowhere.
    let _ = reply.send(outcome);
    accepted()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&shared, &request_id, Outcome::Response(json_or_text(&body)))
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = Outcome::Error {
        error_type: error_type(&headers),
        body: json_or_text(&body),
    };
    finish(&shared, &request_id, outcome)
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.lock().init_error = Some(InitError {
        error_type: error_type(&headers),
        body: json_or_text(&body),
    });
    accepted()
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared)
}

/// What Lambda sets in every function's environment (provided.al2023), for a
/// Runtime API at `address`. Credentials are fake: the caller points the SDK
/// at an emulator (and may override the keys).
/// What Lambda gives a function from its role: left out when the caller
/// gives its own keys.
const ROLE_CREDENTIALS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

fn lambda_env(config: &FunctionConfig, address: &str) -> Vec<(String, String)> {
    let name = &config.name;
    let pairs = [
        ("AWS_LAMBDA_RUNTIME_API", address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef".to_string(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_SESSION_TOKEN", "testing".to_string()),
        ("_HANDLER", "bootstrap".to_string()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_string()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_string()),
    ];
    let own_keys = config.env.contains_key("AWS_ACCESS_KEY_ID");
    pairs
        .into_iter()
        .filter(|(k, _)| !(own_keys && ROLE_CREDENTIALS.contains(k)))
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Collects a child's output lines (Lambda sends them to CloudWatch).
fn collect_lines(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    logs: Arc<Mutex<Vec<String>>>,
) {
    let Some(stream) = stream else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(line);
        }
    });
}

impl Function {
    /// Serves the Runtime API on a free loopback port and spawns the binary
    /// under it. Must run inside a tokio runtime.
    pub async fn start(config: FunctionConfig) -> std::io::Result<Function> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let shared = Arc::new(Shared {
            state: Mutex::new(RuntimeState::default()),
            queued: Notify::new(),
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", config.name),
        });
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let spawned_at = Instant::now();
        let mut child = Command::new(&config.binary)
            .env_clear()
            .envs(lambda_env(&config, &address))
            .envs(&config.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stdout.take(), logs.clone());
        collect_lines(child.stderr.take(), logs.clone());
        Ok(Function {
            config,
            shared,
            server,
            child,
            exit: None,
            spawned_at,
            logs,
            invocations: 0,
        })
    }

    /// Invokes the function with `event`, as Lambda's synchronous `Invoke`
    /// would: its response, or why there is none.
    pub async fn invoke(&mut self, event: &Value) -> Result<Value, InvokeError> {
        self.invocations += 1;
        let (pid, n) = (self.child.id().unwrap_or(0), self.invocations);
        let request_id = format!("{pid:08x}-0000-4000-8000-{n:012x}");
        let trace_id = format!(
            "Root=1-{:08x}-{pid:012x}{n:012x};Sampled=0",
            unix_ms() / 1000
        );
        let (reply, answer) = oneshot::channel();
        let timeout = self.config.timeout;
        self.shared.lock().queued.push_back(Queued {
            request_id,
            trace_id,
            event: serde_json::to_vec(event).unwrap_or_default(),
            deadline_ms: self
                .config
                .fixed_deadline_ms
                .map_or(unix_ms() + timeout.as_millis(), u128::from),
            reply,
        });
        self.shared.queued.notify_one();
        let exited = tokio::select! {
            outcome = answer => match outcome {
                Ok(Outcome::Response(value)) => return Ok(value),
                Ok(Outcome::Error { error_type, body }) => {
                    return Err(InvokeError::Function { error_type, body })
                }
                // The server dropped the reply: only when it is shutting down.
                Err(_) => return Err(InvokeError::TimedOut(Duration::ZERO)),
            },
            status = self.wait() => status,
            _ = tokio::time::sleep(timeout + GRACE) => return Err(InvokeError::TimedOut(timeout)),
        };
        match self.shared.lock().init_error.clone() {
            Some(init) => Err(InvokeError::Init(init)),
            None => Err(InvokeError::Exited(exited)),
        }
    }

    /// Waits (at most `within`) for the process to exit, and returns what it
    /// posted to `/runtime/init/error` before it did.
    pub async fn init_error(
        &mut self,
        within: Duration,
    ) -> Result<(InitError, ExitStatus), InvokeError> {
        let status = tokio::select! {
            status = self.wait() => status,
            _ = tokio::time::sleep(within) => return Err(InvokeError::TimedOut(within)),
        };
        match self.shared.lock().init_error.clone() {
            Some(init) => Ok((init, status)),
            None => Err(InvokeError::Exited(status)),
        }
    }

    /// The process's exit status, once it has ended.
    async fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.exit {
            return status;
        }
        loop {
            match self.child.wait().await {
                Ok(status) => {
                    self.exit = Some(status);
                    return status;
                }
                // An OS error waiting: retry; every caller bounds this with its own timeout.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    /// Process start to its first `GET /invocation/next`: the cold start.
    pub fn cold_start(&self) -> Option<Duration> {
        self.shared
            .lock()
            .first_next
            .map(|t| t.duration_since(self.spawned_at))
    }

    /// Peak resident memory so far (`VmHWM`), in KiB, while the process lives (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .join("\n")
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }
}
