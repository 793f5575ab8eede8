//! Builds what a local run needs from `template.yaml`: the ports (in-process or
//! AWS), each function's configuration, and the event source mappings.

use crate::poller::{self, Handler, Mapping};
use crate::tally::{Invocations, Tally};
use crate::Error;
use clap::{Args, ValueEnum};
use futures::FutureExt;
use pipeline::memory::MemoryBackend;
use pipeline::{Config, Ports, Queue, SystemClock};
use stack::Stack;
use stack_names as ids;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// In-process queues and tables: nothing to install.
    Memory,
    /// Real SQS and DynamoDB APIs (moto, LocalStack or an AWS account).
    Aws,
}

impl Kind {
    /// The name a user gives (`--backend memory`), for messages and reports.
    pub fn display_name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Aws => "aws",
        }
    }
}

/// Where the pipeline runs.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Which queues and tables to use.
    #[arg(long, value_enum, default_value = "memory")]
    pub backend: Kind,
    /// AWS API endpoint for --backend aws (moto: http://127.0.0.1:5000).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Prefix of the queue and table names created for --backend aws.
    #[arg(long, default_value = "adder")]
    pub prefix: String,
    /// Elements per TimesTwo packet (overrides CHUNK_SIZE and the template).
    #[arg(long)]
    pub chunk_size: Option<u64>,
    /// Packets merged per reduce step (overrides FAN_IN and the template).
    #[arg(long)]
    pub fan_in: Option<u64>,
    /// Bytes of an object per TimesTwo message (overrides RANGE_BYTES and the template).
    #[arg(long)]
    pub range_bytes: Option<u64>,
    /// Upper bound on pollers per queue (the template's MaximumConcurrency otherwise).
    #[arg(long)]
    pub max_pollers: Option<usize>,
    /// Seconds a received message stays hidden (the queue's VisibilityTimeout
    /// otherwise); short values make a crashed runner's messages come back fast.
    #[arg(long)]
    pub visibility_timeout: Option<u64>,
    /// Advanced, for --backend aws: each function's own AWS keys,
    /// `Function=ACCESS_KEY_ID:SECRET`, comma-separated (prefer the variable:
    /// arguments are visible to other users). Each function, and the poller of
    /// its queue, signs with its own keys, as each Lambda runs with its own
    /// role; the IAM-enforced tests give each the actions template.yaml grants
    /// it. Other functions and provisioning use the usual credentials.
    #[arg(
        long,
        env = "ADDER_FUNCTION_CREDENTIALS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub function_credentials: Vec<FunctionKeys>,
}

/// One function's AWS access key, from `Function=ACCESS_KEY_ID:SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct FunctionKeys {
    /// The function's logical id in template.yaml.
    pub function: String,
    access_key_id: String,
    secret_access_key: String,
}

impl std::fmt::Debug for FunctionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}:<secret>", self.function, self.access_key_id)
    }
}

impl std::str::FromStr for FunctionKeys {
    type Err = String;

    fn from_str(text: &str) -> Result<FunctionKeys, String> {
        let expected = "expected Function=ACCESS_KEY_ID:SECRET";
        let (function, keys) = text.split_once('=').ok_or(expected)?;
        let (id, secret) = keys.split_once(':').ok_or(expected)?;
        if [function, id, secret]
            .iter()
            .any(|part| part.trim().is_empty())
        {
            return Err(expected.into());
        }
        Ok(FunctionKeys {
            function: function.trim().to_string(),
            access_key_id: id.trim().to_string(),
            secret_access_key: secret.trim().to_string(),
        })
    }
}

impl FunctionKeys {
    /// `sdk`, signing with these keys.
    fn sdk(&self, sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        let keys = aws_sdk_dynamodb::config::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "adder-function-credentials",
        );
        sdk.to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(keys),
            )
            .build()
    }
}

/// A running local pipeline.
pub struct Running {
    /// The ports sum_array (the API) uses, counted in `tally`.
    pub ports: Ports,
    /// The same queues and tables for a client's own reads (not counted).
    pub client_ports: Ports,
    pub tally: Arc<Tally>,
    /// `sum_array`'s configuration.
    pub api_config: Config,
    /// Each function's `MemorySize` in template.yaml, in MB, by binary (as
    /// `tally` names functions): what Lambda would bill its time by.
    pub memory_mb: BTreeMap<String, u32>,
    /// Where a local file is put to be summed as an object: the in-process
    /// store (`--backend memory`).
    pub memory_objects: Option<Arc<pipeline::MemoryObjects>>,
    /// Where a local file is uploaded to be summed as an object: the
    /// provisioned input bucket (`--backend aws`), whose notifications the
    /// runner polls.
    pub input_bucket: Option<String>,
    pollers: Vec<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// How long [`Running::stop`] waits for the pollers: an open receive on SQS
/// ends within [`poller::SQS_POLL_WAIT`], and giving back takes a request.
const STOP_WITHIN: Duration = Duration::from_secs(5);

impl Running {
    /// Stops the pollers: each lets its open receive end, abandons its
    /// invocation in flight and gives back every message it holds, so the
    /// next runner on these queues takes them at once instead of after the
    /// visibility timeout. Dropping a `Running` instead stops them as a
    /// crash would.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let pollers = std::mem::take(&mut self.pollers);
        let all = futures::future::join_all(pollers);
        if tokio::time::timeout(STOP_WITHIN, all).await.is_err() {
            tracing::warn!("pollers still running after {STOP_WITHIN:?}; stopped as a crash");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for p in &self.pollers {
            p.abort();
        }
    }
}

/// The SDK configuration for `endpoint` (moto, LocalStack) or, without one,
/// the environment's account (`aws_ports::Account`).
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let account = endpoint.map_or(
        aws_ports::Account::Environment,
        aws_ports::Account::Endpoint,
    );
    aws_ports::load_sdk_config(account).await
}

/// Starts the pipeline described by `stack` on the chosen backend.
pub async fn start(args: &BackendArgs, stack: &Stack) -> Result<Running, Error> {
    start_counted(args, stack, None).await
}

/// Like [`start`]; with `--backend aws`, `counter` tallies every SDK request
/// the functions send.
pub async fn start_counted(
    args: &BackendArgs,
    stack: &Stack,
    counter: Option<&aws_ports::RequestCounter>,
) -> Result<Running, Error> {
    check_credentials(args, stack)?;
    let backend = match args.backend {
        Kind::Memory => memory_ports(stack),
        Kind::Aws => aws_ports(args, stack, counter).await?,
    };
    let tally = Arc::new(Tally::default());
    let ports_of = |function: &str| -> Result<Ports, Error> {
        let ports = backend
            .functions
            .get(function)
            .ok_or_else(|| Error::Missing(format!("function {function}")))?;
        Ok(tally.wrap(ports.clone()))
    };
    let resources = &backend.resources;
    let api_config = function_config(args, stack, resources, ids::SUM_ARRAY_FUNCTION)?;
    let mut pollers = Vec::new();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    for function in stack.functions.iter() {
        for event in &function.sqs_events {
            let ports = ports_of(&function.logical_id)?;
            let Some(queue) = polled_queue(&ports, event, &backend, &function.logical_id, &tally)?
            else {
                continue;
            };
            let config = function_config(args, stack, resources, &function.logical_id)?;
            let handler = handler_for(
                &function.binary,
                ports,
                config,
                tally.function(&function.binary),
                function.timeout,
            )
            .ok_or_else(|| Error::Missing(format!("handler for binary {}", function.binary)))?;
            let mapping = mapping_of(function, event, args, stack);
            let release = backend.releasers.get(&event.queue).cloned();
            let queues = poller::Polled {
                release: release.unwrap_or_else(|| queue.clone()),
                work: queue,
            };
            pollers.extend(poller::spawn(mapping, queues, handler, stopping.clone()));
        }
    }
    Ok(Running {
        ports: ports_of(ids::SUM_ARRAY_FUNCTION)?,
        client_ports: backend.client,
        tally,
        api_config,
        memory_mb: stack
            .functions
            .iter()
            .map(|f| (f.binary.clone(), f.memory_mb))
            .collect(),
        memory_objects: backend.memory_objects,
        input_bucket: backend.input_bucket,
        pollers,
        stop,
    })
}

/// `function`'s configuration as Lambda would give it (the template's
/// environment, resolved against `resources`), overridden by the process
/// environment and then by `--chunk-size`/`--fan-in`.
fn function_config(
    args: &BackendArgs,
    stack: &Stack,
    resources: &BTreeMap<String, String>,
    function: &str,
) -> Result<Config, Error> {
    let spec = stack
        .function(function)
        .ok_or_else(|| Error::Missing(format!("function {function}")))?;
    let env = stack.resolve_env(spec, |id| resources.get(id).cloned())?;
    let flag = |name: &str| match name {
        "CHUNK_SIZE" => args.chunk_size.map(|v| v.to_string()),
        "FAN_IN" => args.fan_in.map(|v| v.to_string()),
        "RANGE_BYTES" => args.range_bytes.map(|v| v.to_string()),
        _ => None,
    };
    Ok(Config::from_lookup(jobs::registry(), |name| {
        flag(name)
            .or_else(|| std::env::var(name).ok())
            .or_else(|| env.get(name).cloned())
    })?)
}

/// The queue `event` polls: a port of the function's `ports`, or one of the
/// backend's queues that no port covers (S3's notifications). `None` when
/// the in-process backend has no such queue: it has no bucket either, so
/// nothing would ever arrive (see [`memory_ports`]).
fn polled_queue(
    ports: &Ports,
    event: &stack::SqsEventSpec,
    backend: &Backend,
    function: &str,
    tally: &Arc<Tally>,
) -> Result<Option<Arc<dyn Queue>>, Error> {
    match event.queue.as_str() {
        ids::TIMES_TWO_QUEUE => return Ok(Some(ports.times_two_queue.clone())),
        ids::REDUCE_QUEUE => return Ok(Some(ports.reduce_queue.clone())),
        _ => {}
    }
    let polled = backend
        .polled
        .get(&(function.to_string(), event.queue.clone()));
    match (polled, backend.notifications_without_bucket) {
        (Some(queue), _) => Ok(Some(tally.wrap_object_created_queue(queue.clone()))),
        (None, true) => {
            tracing::debug!(queue = %event.queue, "no bucket in this backend: not polled");
            Ok(None)
        }
        (None, false) => Err(Error::Missing(format!("queue port for {}", event.queue))),
    }
}

/// Keys for a function the template does not have are a typo, not a no-op.
fn check_credentials(args: &BackendArgs, stack: &Stack) -> Result<(), Error> {
    match args
        .function_credentials
        .iter()
        .find(|k| stack.function(&k.function).is_none())
    {
        Some(unknown) => Err(Error::Missing(format!(
            "function {} (given credentials)",
            unknown.function
        ))),
        None => Ok(()),
    }
}

/// How the local poller plays `function`'s event source mapping.
fn mapping_of(
    function: &stack::FunctionSpec,
    event: &stack::SqsEventSpec,
    args: &BackendArgs,
    stack: &Stack,
) -> Mapping {
    let visibility_timeout = match args.visibility_timeout {
        Some(secs) => Duration::from_secs(secs),
        None => stack
            .queue(&event.queue)
            .map_or(Duration::from_secs(30), |q| q.visibility_timeout),
    };
    let concurrency = event.maximum_concurrency.unwrap_or(5) as usize;
    // In process a dropped receive holds nothing: the 20 s of Lambda's own
    // pollers; on SQS a stop must let each receive end, so it is short.
    let (poll_wait, cancel_receives) = match args.backend {
        Kind::Memory => (Duration::from_secs(20), true),
        Kind::Aws => (poller::SQS_POLL_WAIT, false),
    };
    Mapping {
        poll_wait,
        cancel_receives,
        name: function.logical_id.clone(),
        batch_size: event.batch_size as usize,
        batching_window: event.batching_window,
        concurrency: args.max_pollers.map_or(concurrency, |m| m.min(concurrency)),
        visibility_timeout,
        function_timeout: function.timeout,
    }
}

/// What a backend gives the runner.
struct Backend {
    /// Each function's ports, by logical id.
    functions: BTreeMap<String, Ports>,
    /// A client's ports.
    client: Ports,
    /// The deployed name of every queue, table and bucket, by logical id.
    resources: BTreeMap<String, String>,
    /// Queues a function's mapping polls that no port covers, by (function,
    /// queue) logical ids: the notification queue of a bucket.
    polled: BTreeMap<(String, String), Arc<dyn Queue>>,
    /// The backend has no buckets, so a queue only a bucket's notifications
    /// feed is not polled.
    notifications_without_bucket: bool,
    /// The in-process object store, if there is one.
    memory_objects: Option<Arc<pipeline::MemoryObjects>>,
    /// The deployed name of the input bucket, if there is one.
    input_bucket: Option<String>,
    /// Per polled queue (logical id), the queue as the runner itself (its
    /// own credentials) sees it: what a stopping poller gives messages back
    /// through. None in process, where the polled queue serves.
    releasers: BTreeMap<String, Arc<dyn Queue>>,
}

/// The in-process backend: `MemoryBackend` has the two work queues, the
/// tables and an object store, but no bucket that notifies a queue, so the
/// ObjectCreated mapping is not played (objects are summed by submitting them).
fn memory_ports(stack: &Stack) -> Backend {
    let max_receive_count = stack
        .queue(ids::TIMES_TWO_QUEUE)
        .and_then(|q| q.redrive.as_ref())
        .map_or(5, |r| r.max_receive_count);
    let backend = MemoryBackend::new(Arc::new(SystemClock), max_receive_count);
    let resources = stack
        .queues
        .iter()
        .map(|q| &q.logical_id)
        .chain(stack.tables.iter().map(|t| &t.logical_id))
        .chain(stack.buckets.iter().map(|b| &b.logical_id))
        .map(|id| (id.clone(), format!("memory:{id}")))
        .collect();
    let functions = stack
        .functions
        .iter()
        .map(|f| (f.logical_id.clone(), backend.ports()))
        .collect();
    Backend {
        functions,
        client: backend.ports(),
        resources,
        polled: BTreeMap::new(),
        notifications_without_bucket: true,
        memory_objects: Some(backend.objects.clone()),
        input_bucket: None,
        releasers: BTreeMap::new(),
    }
}

async fn aws_ports(
    args: &BackendArgs,
    stack: &Stack,
    counter: Option<&aws_ports::RequestCounter>,
) -> Result<Backend, Error> {
    let sdk = sdk_config(args.endpoint_url.as_deref()).await;
    let provisioned = stack_tools::provision(stack, &sdk, &args.prefix)
        .await
        .map_err(|e| Error::Provision(e.to_string()))?;
    let mut functions = BTreeMap::new();
    let mut polled = BTreeMap::new();
    for spec in &stack.functions {
        let keys = args
            .function_credentials
            .iter()
            .find(|k| k.function == spec.logical_id);
        let sdk = keys.map_or_else(|| sdk.clone(), |k| k.sdk(&sdk));
        let names = function_names(spec, stack, &provisioned)?;
        let ports = aws_ports::ports_reporting_denials(&sdk, &names, counter);
        functions.insert(spec.logical_id.clone(), ports);
        for (queue, url) in unported_queues(spec, &provisioned) {
            let client = polling_client(&sdk, counter);
            let port: Arc<dyn Queue> = Arc::new(aws_ports::SqsQueue::new(client, &url));
            polled.insert((spec.logical_id.clone(), queue), port);
        }
    }
    let resources = provisioned
        .queue_urls
        .iter()
        .chain(provisioned.table_names.iter())
        .chain(provisioned.bucket_names.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let client = aws_ports::ports(&sdk, &provisioned.names());
    let input_bucket = provisioned.bucket_names.get(ids::INPUT_BUCKET).cloned();
    let releasers = provisioned
        .queue_urls
        .iter()
        .map(|(id, url)| {
            let queue = aws_ports::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url);
            (id.clone(), Arc::new(queue) as Arc<dyn Queue>)
        })
        .collect();
    Ok(Backend {
        functions,
        client,
        resources,
        polled,
        notifications_without_bucket: false,
        memory_objects: None,
        input_bucket,
        releasers,
    })
}

/// The queues `spec`'s mappings poll that are not work queues of the
/// pipeline's ports, with their URLs.
fn unported_queues(
    spec: &stack::FunctionSpec,
    provisioned: &stack_tools::Provisioned,
) -> Vec<(String, String)> {
    spec.sqs_events
        .iter()
        .filter(|e| !matches!(e.queue.as_str(), ids::TIMES_TWO_QUEUE | ids::REDUCE_QUEUE))
        .filter_map(|e| {
            let url = provisioned.queue_urls.get(&e.queue)?;
            Some((e.queue.clone(), url.clone()))
        })
        .collect()
}

/// An SQS client for a poller, signing as the function (Lambda's poller
/// uses its role), counted and reporting denials like its ports.
fn polling_client(
    sdk: &aws_config::SdkConfig,
    counter: Option<&aws_ports::RequestCounter>,
) -> aws_sdk_sqs::Client {
    let mut config = aws_sdk_sqs::config::Builder::from(sdk).interceptor(aws_ports::ReportDenials);
    if let Some(counter) = counter {
        config = config.interceptor(counter.clone());
    }
    aws_sdk_sqs::Client::from_conf(config.build())
}

/// The queues and tables a function's environment names, as on Lambda, and
/// the work queues its event source mappings poll: Lambda's poller uses the
/// function's role, so the local poller uses the function's ports.
fn function_names(
    spec: &stack::FunctionSpec,
    stack: &Stack,
    provisioned: &stack_tools::Provisioned,
) -> Result<aws_ports::Names, Error> {
    let env = provisioned
        .function_env(stack, &spec.logical_id)
        .map_err(|e| Error::Provision(e.to_string()))?;
    let mut names = aws_ports::Names::from_lookup(|name| env.get(name).cloned());
    for event in &spec.sqs_events {
        let url = provisioned.queue_urls.get(&event.queue).cloned();
        match event.queue.as_str() {
            ids::TIMES_TWO_QUEUE => names.times_two_queue_url = url,
            ids::REDUCE_QUEUE => names.reduce_queue_url = url,
            // Polled through a client of its own (`unported_queues`).
            _ => {}
        }
    }
    Ok(names)
}

fn handler_for(
    binary: &str,
    ports: Ports,
    config: Config,
    invocations: Arc<Invocations>,
    timeout: Duration,
) -> Option<Handler> {
    let reduce = match binary {
        "times_two" => false,
        "reduce" => true,
        _ => return None,
    };
    let shared = Arc::new((ports, config, invocations));
    Some(Arc::new(move |event| {
        let shared = shared.clone();
        async move {
            let (ports, config, invocations) = (&shared.0, &shared.1, &shared.2);
            let started = std::time::Instant::now();
            // The function's timeout, as Lambda gives it in the context.
            let deadline = ports.clock.now_ms() + timeout.as_millis() as u64;
            let response = if reduce {
                handlers::handle_reduce(ports, config, &event, Some(deadline)).await
            } else {
                handlers::handle_times_two(ports, config, &event, Some(deadline)).await
            };
            invocations.count.fetch_add(1, Ordering::Relaxed);
            invocations
                .busy_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            response
        }
        .boxed()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        backend: BackendArgs,
    }

    fn args(flags: &[&str]) -> Result<BackendArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("adder").chain(flags.iter().copied()))
            .map(|c| c.backend)
    }

    #[test]
    fn reads_function_keys_and_never_prints_the_secret() {
        let parsed = args(&[
            "--function-credentials",
            "TimesTwoFunction=AKIA1:s3cr:et,ReduceFunction=AKIA2:x",
        ])
        .expect("parses");
        let keys = &parsed.function_credentials;
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].function, "TimesTwoFunction");
        assert_eq!(
            keys[0].secret_access_key, "s3cr:et",
            "the secret may hold ':'"
        );
        assert_eq!(format!("{:?}", keys[0]), "TimesTwoFunction=AKIA1:<secret>");
        for bad in ["TimesTwoFunction", "F=AKIA", "=AKIA:x", "F=:x", "F=AKIA:"] {
            assert!(args(&["--function-credentials", bad]).is_err(), "{bad}");
        }
    }

    /// Every mapping of the template gets its pollers (one each here), but
    /// the notification queue's only where a bucket can feed it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plays_every_event_source_mapping_of_the_template() {
        let stack = Stack::embedded().expect("template.yaml");
        let mappings: usize = stack.functions.iter().map(|f| f.sqs_events.len()).sum();
        assert_eq!(mappings, 3);
        let memory = start(&args(&["--max-pollers", "1"]).expect("parses"), &stack)
            .await
            .expect("starts in memory");
        assert_eq!(memory.pollers.len(), mappings - 1, "no bucket in memory");
        drop(memory);

        let moto = test_support::Moto::start();
        let flags = [
            "--backend",
            "aws",
            "--endpoint-url",
            moto.endpoint(),
            "--prefix",
            "mappings",
            "--max-pollers",
            "1",
        ];
        let running = start(&args(&flags).expect("parses"), &stack)
            .await
            .expect("starts on moto");
        assert_eq!(running.pollers.len(), mappings);
        // Nothing is sent to the TimesTwo queue here: times_two is invoked
        // through the ObjectCreated mapping only, with the s3:TestEvents
        // that setting the bucket's notifications sent.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let invoked = || {
            running
                .tally
                .function("times_two")
                .count
                .load(Ordering::Relaxed)
        };
        while invoked() == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            invoked() > 0,
            "times_two was not invoked with the notifications"
        );
        let calls = running.tally.calls();
        assert!(
            calls
                .get("object_created_queue.receive")
                .is_some_and(|n| *n > 0),
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn refuses_keys_for_a_function_the_template_lacks() {
        let stack = Stack::embedded().expect("template.yaml");
        let parsed = args(&["--function-credentials", "NoSuchFunction=AKIA:x"]).expect("parses");
        let error = start(&parsed, &stack).await.err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("template.yaml has no function NoSuchFunction (given credentials)")
        );
    }
}
