//! The in-process object store, over memory and local files (`adder sum
//! --file` reads a file bigger than memory through it).

use crate::ports::{ObjectBody, ObjectError, ObjectInfo, Objects, PortError};
use async_trait::async_trait;
use packet::ObjectRef;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where an in-process object's bytes are.
#[derive(Debug, Clone)]
enum Content {
    Bytes(Arc<Vec<u8>>),
    /// Read from disk at each request, so a file bigger than memory can be
    /// summed (`adder sum --file`).
    File(PathBuf),
}

#[derive(Debug, Clone)]
struct Stored {
    content: Content,
    size: u64,
    etag: String,
}

/// The in-process object store: an unversioned bucket namespace.
#[derive(Debug, Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<(String, String), Stored>>,
    denied: Mutex<Vec<String>>,
    /// Objects whose GetObject fails as S3's does for them (HeadObject works).
    unreadable: Mutex<BTreeMap<(String, String), Unreadable>>,
}

/// Why S3 would refuse GetObject of an object it lets HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    Archived,
    KeyDenied,
}

impl MemoryObjects {
    pub fn new() -> MemoryObjects {
        MemoryObjects::default()
    }

    /// Stores `bytes` as `bucket/key`; returns its ref with its ETag.
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> ObjectRef {
        let etag = format!("\"{}\"", short_hash(&bytes));
        let size = bytes.len() as u64;
        self.store(bucket, key, Content::Bytes(Arc::new(bytes)), size, etag)
    }

    /// Serves the file at `path` as `bucket/key` (its ETag from its size and
    /// modification time, so a rewritten file counts as changed).
    pub fn put_file(&self, bucket: &str, key: &str, path: PathBuf) -> std::io::Result<ObjectRef> {
        let meta = std::fs::metadata(&path)?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!(
            "\"{}\"",
            short_hash(format!("{}-{modified}", meta.len()).as_bytes())
        );
        Ok(self.store(bucket, key, Content::File(path), meta.len(), etag))
    }

    fn store(
        &self,
        bucket: &str,
        key: &str,
        content: Content,
        size: u64,
        etag: String,
    ) -> ObjectRef {
        let stored = Stored {
            content,
            size,
            etag: etag.clone(),
        };
        self.lock()
            .insert((bucket.to_string(), key.to_string()), stored);
        ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: None,
            etag: Some(etag),
        }
    }

    pub fn remove(&self, bucket: &str, key: &str) {
        self.lock().remove(&(bucket.to_string(), key.to_string()));
    }

    /// Makes every read of `bucket` fail as S3 does for a function without
    /// `s3:GetObject` on it.
    pub fn deny(&self, bucket: &str) {
        self.denied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bucket.to_string());
    }

    /// Moves `bucket/key` to an archive storage class (S3 Glacier): HEAD
    /// works, GetObject fails with [`ObjectError::Archived`].
    pub fn archive(&self, bucket: &str, key: &str) {
        self.mark(bucket, key, Unreadable::Archived);
    }

    /// Encrypts `bucket/key` with a KMS key the reader may not use: HEAD
    /// works (it needs no kms:Decrypt), GetObject fails with
    /// [`ObjectError::KeyDenied`].
    pub fn deny_key(&self, bucket: &str, key: &str) {
        self.mark(bucket, key, Unreadable::KeyDenied);
    }

    fn mark(&self, bucket: &str, key: &str, why: Unreadable) {
        self.unreadable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((bucket.to_string(), key.to_string()), why);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Stored>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn find(&self, object: &ObjectRef) -> Result<Stored, ObjectError> {
        let denied = self.denied.lock().unwrap_or_else(|e| e.into_inner());
        if denied.contains(&object.bucket) {
            return Err(ObjectError::Forbidden(object.to_string()));
        }
        drop(denied);
        let found = self
            .lock()
            .get(&(object.bucket.clone(), object.key.clone()))
            .cloned();
        // Unversioned: no version id names any object.
        let stored = match found {
            Some(s) if object.version_id.is_none() => s,
            _ => return Err(ObjectError::NotFound(object.to_string())),
        };
        match &object.etag {
            Some(etag) if *etag != stored.etag => Err(ObjectError::Changed(object.to_string())),
            _ => Ok(stored),
        }
    }
}

fn unversioned(object: &ObjectRef) -> ObjectRef {
    ObjectRef {
        version_id: None,
        ..object.clone()
    }
}

/// 32 hex digits of SHA-256: an ETag-like fingerprint.
fn short_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl Objects for MemoryObjects {
    async fn head(&self, object: &ObjectRef) -> Result<ObjectInfo, ObjectError> {
        // S3 answers HeadObject of a version id an unversioned bucket has
        // not with 404 but with 400 (GetObject says 404).
        if object.version_id.is_some() && self.find(&unversioned(object)).is_ok() {
            return Err(ObjectError::Refused(object.to_string()));
        }
        let stored = self.find(object)?;
        Ok(ObjectInfo {
            size: stored.size,
            etag: Some(stored.etag),
            version_id: None,
        })
    }

    async fn read_from(&self, object: &ObjectRef, from: u64) -> Result<ObjectBody, ObjectError> {
        let stored = self.find(object)?;
        let unreadable = self
            .unreadable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(object.bucket.clone(), object.key.clone()))
            .copied();
        match unreadable {
            Some(Unreadable::Archived) => return Err(ObjectError::Archived(object.to_string())),
            Some(Unreadable::KeyDenied) => return Err(ObjectError::KeyDenied(object.to_string())),
            None => {}
        }
        if from >= stored.size {
            return Err(ObjectError::Port(PortError::Rejected(format!(
                "InvalidRange: bytes={from}- of an object of {} bytes",
                stored.size
            ))));
        }
        let reader: Box<dyn BufRead + Send> = match stored.content {
            Content::Bytes(bytes) => {
                let mut cursor = Cursor::new(SharedBytes(bytes));
                cursor.set_position(from);
                Box::new(cursor)
            }
            Content::File(path) => {
                let unreadable = |e: std::io::Error| {
                    ObjectError::Port(PortError::Unavailable(format!("{}: {e}", path.display())))
                };
                let mut file = std::fs::File::open(&path).map_err(unreadable)?;
                file.seek(SeekFrom::Start(from)).map_err(unreadable)?;
                Box::new(BufReader::with_capacity(
                    1 << 16,
                    file.take(stored.size - from),
                ))
            }
        };
        Ok(ObjectBody::Local(reader))
    }
}

/// Bytes shared with the store, readable through a `Cursor`.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
