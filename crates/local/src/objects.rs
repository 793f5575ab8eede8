//! Placing a local file where the running pipeline reads objects, so it can
//! be summed by byte ranges as an S3 object is.

use crate::{sdk_config, BackendArgs, Error, Running};
use aws_sdk_s3::primitives::ByteStream;
use std::path::Path;

/// The bucket local files are served from.
pub const LOCAL_BUCKET: &str = "local";

/// Makes the file at `path` an object the running pipeline can read: put
/// in the in-process store (which reads it from disk range by range, so a
/// file bigger than memory sums in bounded memory), or uploaded to the
/// input bucket (whose notification then starts summing it too: the same
/// array, found by the object's ETag). Returns its bucket and key.
pub async fn place_object(
    running: &Running,
    args: &BackendArgs,
    path: &Path,
) -> Result<(String, String), Error> {
    // A directory would otherwise be "stored" and fail at every range read,
    // each failure retried until the wait gave up.
    if !path.is_file() {
        return Err(Error::NotAFile(path.display().to_string()));
    }
    if let Some(objects) = &running.memory_objects {
        let key = path.display().to_string();
        objects
            .put_file(LOCAL_BUCKET, &key, path.to_path_buf())
            .map_err(|e| Error::Unreadable {
                path: key.clone(),
                reason: e.to_string(),
            })?;
        return Ok((LOCAL_BUCKET.to_string(), key));
    }
    let bucket = running.input_bucket.clone().ok_or(Error::NoInputBucket)?;
    // The file's name keeps its suffix, from which the format is guessed.
    let key = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| Error::NotAFile(path.display().to_string()))?;
    upload(args, &bucket, &key, path).await?;
    Ok((bucket, key))
}

/// Uploads `path` as `bucket`/`key`, streamed from disk in one PutObject
/// (up to S3's 5 GB), with a client of its own: not the functions', so
/// the upload is not counted among their requests.
async fn upload(args: &BackendArgs, bucket: &str, key: &str, path: &Path) -> Result<(), Error> {
    let sdk = sdk_config(args.endpoint_url.as_deref()).await;
    let client = aws_sdk_s3::Client::from_conf(aws_ports::s3_config(&sdk).build());
    let body = ByteStream::from_path(path)
        .await
        .map_err(|e| Error::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .map_err(|e| Error::Upload {
            path: path.display().to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            reason: aws_ports::describe(&e),
        })?;
    Ok(())
}
