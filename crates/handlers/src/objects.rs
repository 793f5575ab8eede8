//! `POST /sumObject` (start summing an S3 object) and `GET /sumObject` (find
//! an object's result by its bucket and key).

use crate::api::{json, problem, result_body, Shared};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use packet::ObjectRef;
use pipeline::{
    find_object, format_of_key, submit_object, Column, Config, FormatRequest, ObjectError,
    ObjectSubmitError,
};
use serde::{Deserialize, Serialize};

/// What a client names: the object, and how its numbers are laid out.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRequest {
    bucket: String,
    key: String,
    version_id: Option<String>,
    /// `json`, `lines` or `csv`; from the key's suffix when absent.
    format: Option<String>,
    /// CSV only: 0-based index or header name (default `INPUT_CSV_COLUMN`).
    column: Option<ColumnText>,
    /// CSV only: whether the first line is a header (default true).
    header: Option<bool>,
}

/// A column as JSON gives it (a number or a name), or as a query string
/// gives it (always text).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ColumnText {
    Index(usize),
    Name(String),
}

impl ObjectRequest {
    fn object(&self) -> ObjectRef {
        ObjectRef {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            etag: None,
        }
    }

    fn format(&self, config: &Config) -> Result<FormatRequest, String> {
        let csv_only = self.column.is_some() || self.header.is_some();
        let format = match self.format.as_deref() {
            None => format_of_key(&self.key, config),
            Some("json") => FormatRequest::JsonArray,
            Some("lines") => FormatRequest::Lines,
            Some("csv") => FormatRequest::Csv {
                column: Column::parse(&config.input_csv_column),
                header: true,
            },
            Some(other) => return Err(format!("format {other:?} is not one of json, lines, csv")),
        };
        match format {
            FormatRequest::Csv { column, header } => Ok(FormatRequest::Csv {
                column: match &self.column {
                    Some(ColumnText::Index(i)) => Column::Index(*i),
                    Some(ColumnText::Name(name)) => Column::parse(name),
                    None => column,
                },
                header: self.header.unwrap_or(header),
            }),
            _ if csv_only => Err("column and header apply to the csv format only".into()),
            other => Ok(other),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.bucket.is_empty() || self.key.is_empty() {
            return Err("bucket and key must not be empty".into());
        }
        if self.key.len() > 1024 {
            return Err("an S3 key is at most 1024 bytes".into());
        }
        Ok(())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectAccepted<'a> {
    status: &'static str,
    array_id: &'a str,
    /// The array's state now: `pending`, or `done`/`failed` when the same
    /// object was summed before.
    array_status: &'static str,
}

pub(crate) async fn post_sum_object(State(api): Shared, request: Request) -> Response {
    let body = match crate::api::body_text(request.into_body()).await {
        Ok(text) => text,
        Err(refusal) => return refusal,
    };
    let wanted: ObjectRequest = match serde_json::from_str(&body) {
        Ok(w) => w,
        Err(e) => {
            let why = format!(
                "the body must be {{\"bucket\": …, \"key\": …}} with optional versionId, \
                 format, column, header: {e}"
            );
            return problem(StatusCode::BAD_REQUEST, &why);
        }
    };
    let (object, format) = match checked(&wanted, &api.config) {
        Ok(parts) => parts,
        Err(why) => return problem(StatusCode::BAD_REQUEST, &why),
    };
    match submit_object(&api.ports, &api.config, &object, &format).await {
        Ok(accepted) => {
            let answer = ObjectAccepted {
                status: "success",
                array_id: &accepted.array_id,
                array_status: accepted.status.as_str(),
            };
            json(
                StatusCode::OK,
                serde_json::to_string(&answer).unwrap_or_default(),
            )
        }
        Err(e) => refusal(&e),
    }
}

pub(crate) async fn get_sum_object(
    State(api): Shared,
    query: Result<Query<ObjectRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(wanted)) = query else {
        return problem(
            StatusCode::BAD_REQUEST,
            "give the object as ?bucket=…&key=… (optional versionId, format, column, header)",
        );
    };
    let (object, format) = match checked(&wanted, &api.config) {
        Ok(parts) => parts,
        Err(why) => return problem(StatusCode::BAD_REQUEST, &why),
    };
    match find_object(&api.ports, &object, &format).await {
        Ok(Some(record)) => json(StatusCode::OK, result_body(&record)),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            &format!("{object} (as it is now, in this format) was never submitted"),
        ),
        Err(e) => refusal(&e),
    }
}

/// The object and format asked for, or why the request is a 400.
fn checked(wanted: &ObjectRequest, config: &Config) -> Result<(ObjectRef, FormatRequest), String> {
    let format = wanted.check().and_then(|()| wanted.format(config))?;
    Ok((wanted.object(), format))
}

/// The answer to an object that cannot be summed.
fn refusal(e: &ObjectSubmitError) -> Response {
    let status = match e {
        ObjectSubmitError::Object(ObjectError::NotFound(_)) => StatusCode::NOT_FOUND,
        ObjectSubmitError::Object(ObjectError::Forbidden(_) | ObjectError::KeyDenied(_)) => {
            StatusCode::FORBIDDEN
        }
        // S3 says 403 InvalidObjectState; no grant cures it: the object's
        // state must change first.
        ObjectSubmitError::Object(ObjectError::Changed(_) | ObjectError::Archived(_)) => {
            StatusCode::CONFLICT
        }
        // The versionId is the request's.
        ObjectSubmitError::Object(ObjectError::Refused(_)) => StatusCode::BAD_REQUEST,
        ObjectSubmitError::Format(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ObjectSubmitError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ObjectSubmitError::Object(ObjectError::Port(p)) | ObjectSubmitError::Port(p) => {
            tracing::error!(error = %p, "could not start an object array");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "S3, SQS or DynamoDB is unavailable right now; nothing was started, retry",
            );
        }
    };
    problem(status, &e.to_string())
}
