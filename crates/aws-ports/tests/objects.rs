//! The object store port's contract, written once and run against both
//! implementations: `pipeline::MemoryObjects` and `aws_ports::S3Objects` on
//! moto's S3. The steps are tested over the in-process store only, so every
//! behaviour they rely on must hold for both. Then, on moto only: what the
//! in-process store has no counterpart for (versions, lost answers, IAM).

use async_trait::async_trait;
use aws_ports::{local_sdk_config, s3_config, LoseAnswers, S3Objects};
use aws_sdk_s3::primitives::ByteStream;
use packet::ObjectRef;
use pipeline::{MemoryObjects, ObjectBody, ObjectError, Objects, PortError};
use std::io::Read;
use std::sync::Arc;
use test_support::Moto;
use tokio::io::AsyncReadExt;

/// An object store to check, with a bucket to put objects in.
#[async_trait]
trait Store: Send + Sync {
    fn objects(&self) -> Arc<dyn Objects>;
    /// Stores `bytes` as `key` (replacing it); its ref with its ETag.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> ObjectRef;
    /// An object in a bucket the port may not read.
    async fn denied(&self) -> ObjectRef;
    /// An object of `bytes` in an archive storage class (S3 Glacier
    /// Flexible Retrieval), not restored.
    async fn archived(&self, key: &str, bytes: Vec<u8>) -> ObjectRef;
}

const BUCKET: &str = "objects";

struct InProcess(Arc<MemoryObjects>);

#[async_trait]
impl Store for InProcess {
    fn objects(&self) -> Arc<dyn Objects> {
        self.0.clone()
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> ObjectRef {
        self.0.put(BUCKET, key, bytes)
    }
    async fn denied(&self) -> ObjectRef {
        let object = self.0.put("denied", "k", b"1\n".to_vec());
        self.0.deny("denied");
        object
    }
    async fn archived(&self, key: &str, bytes: Vec<u8>) -> ObjectRef {
        let object = self.0.put(BUCKET, key, bytes);
        self.0.archive(BUCKET, key);
        object
    }
}

/// S3Objects on a fresh moto server, with the bucket made.
struct OnMoto {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    client: aws_sdk_s3::Client,
}

impl OnMoto {
    async fn start() -> OnMoto {
        let moto = Moto::start();
        let sdk = local_sdk_config(moto.endpoint()).await;
        let client = aws_sdk_s3::Client::from_conf(s3_config(&sdk).build());
        let on = OnMoto { moto, sdk, client };
        on.create_bucket(BUCKET).await;
        on
    }

    async fn create_bucket(&self, bucket: &str) {
        self.client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create the bucket on moto");
    }

    async fn put_in(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> ObjectRef {
        let output = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .expect("put the object on moto");
        ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: output.version_id().map(str::to_string),
            etag: Some(output.e_tag().expect("PutObject gives an ETag").to_string()),
        }
    }
}

#[async_trait]
impl Store for OnMoto {
    fn objects(&self) -> Arc<dyn Objects> {
        Arc::new(S3Objects::new(self.client.clone()))
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> ObjectRef {
        self.put_in(BUCKET, key, bytes).await
    }
    /// moto does not let an identity policy deny the test's own keys unless
    /// it enforces IAM everywhere; it does enforce a bucket policy's Deny.
    /// (It checks HEAD against `s3:HeadObject`, not an IAM action on AWS.)
    async fn denied(&self) -> ObjectRef {
        self.create_bucket("denied").await;
        let object = self.put_in("denied", "k", b"1\n".to_vec()).await;
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:HeadObject"],
                "Resource": "arn:aws:s3:::denied/*",
            }],
        });
        self.client
            .put_bucket_policy()
            .bucket("denied")
            .policy(policy.to_string())
            .send()
            .await
            .expect("put the bucket policy");
        object
    }
    async fn archived(&self, key: &str, bytes: Vec<u8>) -> ObjectRef {
        let output = self
            .client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .expect("put the archived object on moto");
        ObjectRef {
            bucket: BUCKET.to_string(),
            key: key.to_string(),
            version_id: None,
            etag: Some(output.e_tag().expect("PutObject gives an ETag").to_string()),
        }
    }
}

/// Bytes no two offsets of which look alike for long.
fn bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

async fn read_all(body: ObjectBody) -> Vec<u8> {
    let mut all = Vec::new();
    match body {
        ObjectBody::Local(mut reader) => {
            reader.read_to_end(&mut all).expect("read the local body");
        }
        ObjectBody::Stream(mut stream) => {
            stream.read_to_end(&mut all).await.expect("read the stream");
        }
    }
    all
}

/// Whether `body` holds exactly `expected`, read 64 KiB at a time.
async fn holds_exactly(mut body: ObjectBody, expected: &[u8]) -> bool {
    let mut buffer = vec![0; 64 * 1024];
    let mut at = 0;
    loop {
        let n = match &mut body {
            ObjectBody::Local(reader) => reader.read(&mut buffer).expect("read the local body"),
            ObjectBody::Stream(stream) => stream.read(&mut buffer).await.expect("read the stream"),
        };
        if n == 0 {
            return at == expected.len();
        }
        if expected.get(at..at + n) != Some(&buffer[..n]) {
            return false;
        }
        at += n;
    }
}

fn missing(key: &str) -> ObjectRef {
    ObjectRef {
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: None,
        etag: None,
    }
}

// ---- the checks ----

async fn head_gives_size_and_etag(s: &dyn Store) {
    let object = s.put("a/b.csv", bytes(1_000)).await;
    let info = s.objects().head(&object).await.expect("head");
    assert_eq!(info.size, 1_000);
    assert_eq!(info.etag, object.etag, "the ETag PutObject gave");
    assert_eq!(
        info.version_id, None,
        "an unversioned bucket has no versions"
    );
    let unpinned = ObjectRef {
        etag: None,
        ..object
    };
    assert_eq!(s.objects().head(&unpinned).await, Ok(info));
}

async fn read_from_yields_the_bytes_from_there_on(s: &dyn Store) {
    let content = bytes(1_000);
    let object = s.put("k", content.clone()).await;
    for from in [0, 1, 499, 998, 999] {
        let body = s.objects().read_from(&object, from).await.expect("read");
        assert_eq!(
            read_all(body).await,
            content[from as usize..],
            "from {from}"
        );
    }
}

async fn a_missing_object_is_not_found(s: &dyn Store) {
    s.put("present", bytes(10)).await;
    let absent = missing("absent");
    let not_found = Err(ObjectError::NotFound(absent.to_string()));
    assert_eq!(s.objects().head(&absent).await, not_found);
    let read = s.objects().read_from(&absent, 0).await;
    assert_eq!(read.map(drop), not_found.map(drop));
    let no_bucket = ObjectRef {
        bucket: "no-such-bucket".into(),
        ..absent
    };
    assert_eq!(
        s.objects().head(&no_bucket).await,
        Err(ObjectError::NotFound(no_bucket.to_string()))
    );
}

/// A version id no version has, here in an unversioned bucket: S3 answers
/// GetObject 404 and HeadObject 400 without a code (AWS: InvalidArgument).
/// A HEAD 400 is refused, not "gone": a notification that skipped it as
/// deleted would leave no record (in a versioned bucket it is an SSE-C
/// object, or a version id S3 finds invalid).
async fn a_version_id_naming_no_version_is_refused_by_head(s: &dyn Store) {
    let object = s.put("k", bytes(10)).await;
    let no_version = ObjectRef {
        version_id: Some("3HL4kqtJvjVBH40Nrjfkd".into()),
        ..object
    };
    assert_eq!(
        s.objects().head(&no_version).await,
        Err(ObjectError::Refused(no_version.to_string()))
    );
    let read = s.objects().read_from(&no_version, 0).await.map(drop);
    assert_eq!(read, Err(ObjectError::NotFound(no_version.to_string())));
}

/// An archived object can be HEADed, not read: InvalidObjectState, which
/// names its cause, not a missing s3:GetObject.
async fn an_archived_object_is_headed_but_not_read(s: &dyn Store) {
    let object = s.archived("cold.txt", bytes(10)).await;
    let info = s.objects().head(&object).await.expect("head");
    assert_eq!(info.size, 10);
    let read = s.objects().read_from(&object, 0).await.map(drop);
    assert_eq!(read, Err(ObjectError::Archived(object.to_string())));
}

async fn a_wrong_etag_is_changed(s: &dyn Store) {
    let object = s.put("k", bytes(10)).await;
    let wrong = ObjectRef {
        etag: Some("\"0123456789abcdef0123456789abcdef\"".into()),
        ..object
    };
    let changed = ObjectError::Changed(wrong.to_string());
    assert_eq!(s.objects().head(&wrong).await, Err(changed.clone()));
    let read = s.objects().read_from(&wrong, 0).await.map(drop);
    assert_eq!(read, Err(changed));
}

async fn an_object_overwritten_after_its_ref_is_changed(s: &dyn Store) {
    let old = s.put("k", bytes(100)).await;
    let new = s.put("k", bytes(101)).await;
    assert_ne!(old.etag, new.etag);
    let changed = ObjectError::Changed(old.to_string());
    assert_eq!(s.objects().head(&old).await, Err(changed.clone()));
    let read = s.objects().read_from(&old, 5).await.map(drop);
    assert_eq!(read, Err(changed));
    let body = s.objects().read_from(&new, 5).await.expect("read new");
    assert_eq!(read_all(body).await, bytes(101)[5..]);
}

async fn reading_at_or_past_the_end_is_rejected(s: &dyn Store) {
    let object = s.put("k", bytes(10)).await;
    let empty = s.put("empty", Vec::new()).await;
    for (object, from) in [
        (&object, 10),
        (&object, 11),
        (&object, 1 << 40),
        (&empty, 0),
    ] {
        match s.objects().read_from(object, from).await.map(drop) {
            Err(ObjectError::Port(PortError::Rejected(_))) => {}
            other => panic!("{object} from {from}: expected Rejected, got {other:?}"),
        }
    }
    assert_eq!(s.objects().head(&empty).await.map(|i| i.size), Ok(0));
}

async fn a_denied_bucket_is_forbidden(s: &dyn Store) {
    let object = s.denied().await;
    let forbidden = ObjectError::Forbidden(object.to_string());
    assert_eq!(s.objects().head(&object).await, Err(forbidden.clone()));
    let read = s.objects().read_from(&object, 0).await.map(drop);
    assert_eq!(read, Err(forbidden));
}

async fn a_big_object_is_read_whole_and_from_its_last_byte(s: &dyn Store) {
    const SIZE: usize = 20 * 1024 * 1024;
    let content = bytes(SIZE);
    let object = s.put("big", content.clone()).await;
    let body = s.objects().read_from(&object, 0).await.expect("read");
    assert!(holds_exactly(body, &content).await, "the whole object");
    let from = SIZE as u64 - 1;
    let body = s.objects().read_from(&object, from).await.expect("read");
    assert_eq!(read_all(body).await, content[SIZE - 1..]);
}

/// Runs each check on both stores, as separate tests.
macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = super::InProcess(std::sync::Arc::new(pipeline::MemoryObjects::new()));
                    super::$check(&store).await;
                }
            )*
        }
        mod on_moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(&super::OnMoto::start().await).await;
                }
            )*
        }
    };
}

contract!(
    head_gives_size_and_etag,
    read_from_yields_the_bytes_from_there_on,
    a_missing_object_is_not_found,
    a_version_id_naming_no_version_is_refused_by_head,
    an_archived_object_is_headed_but_not_read,
    a_wrong_etag_is_changed,
    an_object_overwritten_after_its_ref_is_changed,
    reading_at_or_past_the_end_is_rejected,
    a_denied_bucket_is_forbidden,
    a_big_object_is_read_whole_and_from_its_last_byte,
);

// ---- on moto only ----

impl OnMoto {
    /// S3Objects over a client configured by `sdk` (other keys), with `tweak`.
    fn objects_with(
        sdk: &aws_config::SdkConfig,
        tweak: impl FnOnce(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder,
    ) -> S3Objects {
        let config = tweak(s3_config(sdk)).build();
        S3Objects::new(aws_sdk_s3::Client::from_conf(config))
    }

    async fn enable_versioning(&self, bucket: &str) {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        let enabled = VersioningConfiguration::builder()
            .status(BucketVersioningStatus::Enabled)
            .build();
        self.client
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(enabled)
            .send()
            .await
            .expect("enable versioning");
    }
}

/// A version id pins the version: it is read after the key is overwritten,
/// where the same object pinned by its ETag is `Changed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_id_reads_its_version_after_an_overwrite() {
    let moto = OnMoto::start().await;
    moto.enable_versioning(BUCKET).await;
    let first = moto.put("k", bytes(50)).await;
    let version = first
        .version_id
        .clone()
        .expect("a versioned bucket gives a version id");
    moto.put("k", bytes(60)).await;
    let objects = moto.objects();
    let info = objects.head(&first).await.expect("head the first version");
    assert_eq!((info.size, info.version_id), (50, Some(version)));
    let body = objects.read_from(&first, 7).await.expect("read it");
    assert_eq!(read_all(body).await, bytes(50)[7..]);
    let by_etag = ObjectRef {
        version_id: None,
        ..first
    };
    let changed = Err(ObjectError::Changed(by_etag.to_string()));
    assert_eq!(objects.head(&by_etag).await, changed);
}

/// moto named by a host name (`localhost`, a container's name) is reached
/// too: its buckets are not subdomains of that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_named_by_host_name_is_addressed_path_style() {
    let moto = OnMoto::start().await;
    let object = moto.put("k", bytes(10)).await;
    let by_name = moto.moto.endpoint().replace("127.0.0.1", "localhost");
    let sdk = local_sdk_config(&by_name).await;
    let objects = OnMoto::objects_with(&sdk, |c| c);
    assert_eq!(objects.head(&object).await.map(|i| i.size), Ok(10));
}

/// A lost answer to a read is retried by the SDK (reads are idempotent); a
/// server failing every attempt, or one that cannot be reached, is
/// `Unavailable`, which the steps retry later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_retried_then_unavailable() {
    let moto = OnMoto::start().await;
    let object = moto.put("k", bytes(100)).await;
    let once = LoseAnswers::new("GetObject", 1);
    let lose_once = once.clone();
    let objects = OnMoto::objects_with(&moto.sdk, |c| c.interceptor(lose_once));
    let body = objects
        .read_from(&object, 3)
        .await
        .expect("read after a retry");
    assert_eq!(read_all(body).await, bytes(100)[3..]);
    assert_eq!(once.left(), 0, "the answer was lost once");

    let always = LoseAnswers::new("HeadObject", 100);
    let objects = OnMoto::objects_with(&moto.sdk, |c| c.interceptor(always));
    match objects.head(&object).await {
        Err(ObjectError::Port(PortError::Unavailable(m))) => assert!(m.contains("500"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let nowhere = local_sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let objects = OnMoto::objects_with(&nowhere, |c| c);
    let read = objects.read_from(&object, 0).await.map(drop);
    assert!(
        matches!(read, Err(ObjectError::Port(PortError::Unavailable(_)))),
        "{read:?}"
    );
}

/// The ports every constructor builds read objects on moto (path-style), and
/// their S3 requests are counted and recorded with their IAM actions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ports_constructor_reads_objects_counted_and_recorded() {
    let moto = OnMoto::start().await;
    moto.enable_versioning(BUCKET).await;
    let object = moto.put("k", bytes(30)).await;
    let names = aws_ports::Names::default();
    let counter = aws_ports::RequestCounter::new();
    let recorder = aws_ports::CallRecorder::new();
    let all_ports = [
        aws_ports::ports(&moto.sdk, &names),
        aws_ports::ports_counted(&moto.sdk, &names, Some(&counter)),
        aws_ports::ports_reporting_denials(&moto.sdk, &names, Some(&counter)),
        aws_ports::ports_recorded(&moto.sdk, &names, &recorder),
    ];
    let by_etag = ObjectRef {
        version_id: None,
        ..object.clone()
    };
    for ports in &all_ports {
        assert_eq!(ports.objects.head(&by_etag).await.map(|i| i.size), Ok(30));
        let body = ports.objects.read_from(&by_etag, 29).await.expect("read");
        assert_eq!(read_all(body).await, bytes(30)[29..]);
    }
    let tally = counter.snapshot();
    for operation in ["HeadObject", "GetObject"] {
        let sent = tally.get(&("S3".to_string(), operation.to_string()));
        assert_eq!(sent.map(|s| s.requests), Some(2), "{operation}: {tally:?}");
    }
    let recorded = all_ports[3].objects.read_from(&object, 0).await.map(drop);
    assert_eq!(recorded, Ok(()), "a read of the version");
    let call = |action: &str| aws_ports::Call {
        action: action.into(),
        resource: aws_ports::INPUT_BUCKET.into(),
    };
    assert_eq!(
        recorder.calls(),
        [call("s3:GetObject"), call("s3:GetObjectVersion")].into()
    );
}

/// moto enforcing IAM judges the port's S3 requests against a function's
/// policy built by `test_support::iam` from a template's grants: its
/// bucket's objects are readable, another bucket is Forbidden, and so is a
/// versioned read without `s3:GetObjectVersion`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_reads_are_judged_against_the_functions_policy() {
    const TEMPLATE: &str = "Resources:\n  Input:\n    Type: AWS::S3::Bucket\n  \
        F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        \
        Binary: f\n    Properties:\n      Policies:\n        - Statement:\n            \
        - Effect: Allow\n              Action: s3:GetObject\n              \
        Resource: !Sub \"${Input.Arn}/*\"\n";
    let moto = OnMoto::start().await;
    let prefix = "judged";
    let input = stack_names::local_bucket_name(prefix, "Input");
    moto.create_bucket(&input).await;
    moto.enable_versioning(&input).await;
    let versioned = moto.put_in(&input, "k", bytes(20)).await;
    let readable = ObjectRef {
        version_id: None,
        ..versioned.clone()
    };
    let elsewhere = moto.put("k", bytes(20)).await;
    let stack = stack::Stack::parse(TEMPLATE).expect("the test template parses");
    let principals = test_support::iam::enforce(&moto.moto, &stack, prefix).expect("IAM on moto");

    let f = &principals.functions["F"];
    let keys = aws_sdk_s3::config::Credentials::new(
        &f.access_key_id,
        &f.secret_access_key,
        None,
        None,
        "test",
    );
    let sdk = moto
        .sdk
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(keys))
        .build();
    let objects = OnMoto::objects_with(&sdk, |c| c);
    assert_eq!(objects.head(&readable).await.map(|i| i.size), Ok(20));
    let body = objects
        .read_from(&readable, 4)
        .await
        .expect("read its bucket");
    assert_eq!(read_all(body).await, bytes(20)[4..]);
    for denied in [&elsewhere, &versioned] {
        let read = objects.read_from(denied, 0).await.map(drop);
        assert_eq!(read, Err(ObjectError::Forbidden(denied.to_string())));
    }
    let head = objects.head(&elsewhere).await;
    assert_eq!(head, Err(ObjectError::Forbidden(elsewhere.to_string())));

    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let names = aws_ports::Names::default();
    let ports = aws_ports::ports_reporting_denials(&sdk, &names, None);
    let read = ports.objects.read_from(&versioned, 0).await.map(drop);
    assert_eq!(read, Err(ObjectError::Forbidden(versioned.to_string())));
    let logged = log.text();
    assert!(
        logged.contains("IAM denied s3:GetObjectVersion"),
        "{logged}"
    );
}

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log")).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;
    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}
