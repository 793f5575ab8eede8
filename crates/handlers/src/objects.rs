//! `POST /sumObject` (start summing an S3 object) and `GET /sumObject` (find
//! an object's result by its bucket and key).

use crate::answer::{ok, ApiError};
use crate::body::body_text;
use crate::wire::{job_spec, ColumnText, ObjectAccepted, ObjectRequest, SumView};
use crate::Shared;
use axum::extract::{Query, Request, State};
use axum::response::Response;
use packet::ObjectRef;
use pipeline::{
    find_object, submit_object_job, Column, Config, FormatRequest, ObjectError, ObjectJob,
    ObjectSubmitError,
};

/// The object `wanted` names.
fn object(wanted: &ObjectRequest) -> ObjectRef {
    ObjectRef {
        bucket: wanted.bucket.clone(),
        key: wanted.key.clone(),
        version_id: wanted.version_id.clone(),
        etag: None,
    }
}

/// The format `wanted` asks for, its defaults filled in from `config`.
fn format(wanted: &ObjectRequest, config: &Config) -> Result<FormatRequest, String> {
    let column = wanted.column.as_ref().map(|c| match c {
        ColumnText::Index(i) => Column::Index(*i),
        ColumnText::Name(name) => Column::parse(name),
    });
    FormatRequest::asked(
        wanted.format.as_deref(),
        column,
        wanted.header,
        &wanted.key,
        config,
    )
}

/// Whether `wanted` names an object S3 could hold.
fn check(wanted: &ObjectRequest) -> Result<(), String> {
    if wanted.bucket.is_empty() || wanted.key.is_empty() {
        return Err("bucket and key must not be empty".into());
    }
    if wanted.key.len() > 1024 {
        return Err("an S3 key is at most 1024 bytes".into());
    }
    Ok(())
}

pub(crate) async fn post_sum_object(
    State(api): Shared,
    request: Request,
) -> Result<Response, ApiError> {
    let body = body_text(request.into_body()).await?;
    let wanted: ObjectRequest = serde_json::from_str(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be {{\"bucket\": …, \"key\": …}} with optional versionId, \
             format, column, header, job, params: {e}"
        ))
    })?;
    let (object, format, job) = checked(&wanted, &api.config)?;
    let accepted = submit_object_job(&api.ports, &api.config, &object, &format, &job)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(ok(&ObjectAccepted {
        status: "success".to_string(),
        array_id: accepted.array_id,
        array_status: accepted.status.as_str().to_string(),
    }))
}

pub(crate) async fn get_sum_object(
    State(api): Shared,
    query: Result<Query<ObjectRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Ok(Query(wanted)) = query else {
        return Err(ApiError::BadRequest(
            "give the object as ?bucket=…&key=… (optional versionId, format, column, header, job, params)"
                .into(),
        ));
    };
    let (object, format, job) = checked(&wanted, &api.config)?;
    match find_object(&api.ports, &object, &format, &job).await {
        Ok(Some(record)) => Ok(ok(&SumView::of(&record, &api.config.jobs))),
        Ok(None) => Err(ApiError::NotFound(format!(
            "{object} (as it is now, in this format, with this job) was never submitted"
        ))),
        Err(e) => Err(refusal(&e)),
    }
}

/// The object, format and job asked for, or why the request is a 400.
fn checked(
    wanted: &ObjectRequest,
    config: &Config,
) -> Result<(ObjectRef, FormatRequest, ObjectJob), ApiError> {
    let format = check(wanted)
        .and_then(|()| format(wanted, config))
        .map_err(ApiError::BadRequest)?;
    let spec =
        job_spec(wanted.job.as_deref(), wanted.params.as_ref()).map_err(ApiError::BadRequest)?;
    let job = ObjectJob::checked(config, &spec, &format)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok((object(wanted), format, job))
}

/// The answer to an object that cannot be summed.
fn refusal(e: &ObjectSubmitError) -> ApiError {
    let why = e.to_string();
    match e {
        ObjectSubmitError::Object(ObjectError::NotFound(_)) => ApiError::NotFound(why),
        ObjectSubmitError::Object(ObjectError::Forbidden(_) | ObjectError::KeyDenied(_)) => {
            ApiError::Forbidden(why)
        }
        // S3 says 403 InvalidObjectState; no grant cures it: the object's
        // state must change first.
        ObjectSubmitError::Object(ObjectError::Changed(_) | ObjectError::Archived(_)) => {
            ApiError::Conflict(why)
        }
        // The versionId is the request's.
        ObjectSubmitError::Object(ObjectError::Refused(_)) => ApiError::BadRequest(why),
        ObjectSubmitError::Format(_) => ApiError::Unprocessable(why),
        ObjectSubmitError::Job(_) => ApiError::BadRequest(why),
        ObjectSubmitError::TooLarge { .. } => ApiError::TooLarge(why),
        ObjectSubmitError::Object(ObjectError::Port(p)) | ObjectSubmitError::Port(p) => {
            tracing::error!(error = %p, "could not start an object array");
            ApiError::Unavailable(
                "S3, SQS or DynamoDB is unavailable right now; nothing was started, retry".into(),
            )
        }
    }
}
