//! `--job NAME --param NAME=VALUE`: the job a command runs (docs/jobs.md),
//! the same flags on `sum`, `submit` and `bench`.

use clap::Args;
use handlers::wire::{ObjectRequest, ParamsText};
use packet::job::JobSpec;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

#[derive(Debug, Clone, Default, Args)]
pub struct JobArgs {
    /// The job to run: sum (the default: doubles and adds), stats, sum-by,
    /// histogram, or any job the deployment registers (docs/jobs.md).
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// A parameter of the job, NAME=VALUE, VALUE read as JSON when it is
    /// JSON and as text otherwise (`--param by=region`, `--param
    /// 'bounds=[0,10,100]'`). Repeat for several.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, serde_json::Value)>,
}

fn parse_param(text: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.into()));
    Ok((name.to_string(), value))
}

impl JobArgs {
    /// The job as the API takes it: `sum` unless named.
    pub fn spec(&self) -> JobSpec {
        JobSpec {
            name: self.job.clone().unwrap_or_else(|| "sum".into()),
            params: self.params.iter().cloned().collect(),
        }
    }
}

/// `POST /sumArray`'s path for `job`: no query for the default.
pub fn array_path(job: &JobSpec) -> String {
    if job.is_default() {
        return "/sumArray".into();
    }
    let mut path = format!("/sumArray?job={}", encoded(&job.name));
    if !job.params.is_empty() {
        let params = serde_json::to_string(&job.params).unwrap_or_default();
        path.push_str(&format!("&params={}", encoded(&params)));
    }
    path
}

fn encoded(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `request` running `job` (nothing added for the default).
pub fn with_job(request: ObjectRequest, job: &JobSpec) -> ObjectRequest {
    if job.is_default() {
        return request;
    }
    ObjectRequest {
        job: Some(job.name.clone()),
        params: (!job.params.is_empty()).then(|| ParamsText::Object(job.params.clone())),
        ..request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_json_when_they_parse_and_text_otherwise() {
        assert_eq!(
            parse_param("bounds=[0,10]"),
            Ok(("bounds".into(), serde_json::json!([0, 10])))
        );
        assert_eq!(
            parse_param("by=region"),
            Ok(("by".into(), serde_json::json!("region")))
        );
        assert_eq!(parse_param("by=2"), Ok(("by".into(), serde_json::json!(2))));
        assert_eq!(
            parse_param("region"),
            Err(r#""region" is not NAME=VALUE"#.to_string())
        );
    }

    #[test]
    fn the_default_job_adds_no_query_and_others_are_encoded() {
        assert_eq!(array_path(&JobSpec::default()), "/sumArray");
        let mut spec = JobSpec::named("histogram");
        spec.params
            .insert("bounds".into(), serde_json::json!([0, 10]));
        assert_eq!(
            array_path(&spec),
            "/sumArray?job=histogram&params=%7B%22bounds%22%3A%5B0%2C10%5D%7D"
        );
    }
}
