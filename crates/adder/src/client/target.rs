//! Which deployed queues and tables the inspection commands read: a
//! CloudFormation stack's outputs, or the local runner's `<prefix>-<LogicalId>`
//! names on an endpoint.

use crate::error::Error;
use aws_config::SdkConfig;
use clap::Args;
use stack_tools::{Admin, Resources};
use std::collections::BTreeMap;

/// Where the stack's queues and tables are.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// A deployed stack: read the queue URLs and table names from its
    /// CloudFormation outputs (takes precedence over --prefix).
    #[arg(long)]
    pub stack: Option<String>,
    /// The local runner's resources (`adder serve --backend aws --prefix`).
    #[arg(long, default_value = "adder")]
    pub prefix: String,
    /// AWS API endpoint (moto: http://127.0.0.1:5000); your account when absent.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// The outputs of a deployed CloudFormation stack, by key.
pub async fn stack_outputs(
    sdk: &SdkConfig,
    stack: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            Error::Aws(format!(
                "cannot describe stack {stack}: {}",
                aws_ports::describe(&e)
            ))
        })?;
    let found = out
        .stacks()
        .first()
        .ok_or_else(|| Error::Aws(format!("stack {stack} not found")))?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// The admin tools on the resources `args` names.
pub async fn admin(args: &AwsArgs) -> Result<Admin, Error> {
    let sdk = local::sdk_config(args.endpoint_url.as_deref()).await;
    let resources = match &args.stack {
        Some(stack) => {
            let outputs = stack_outputs(&sdk, stack).await?;
            Resources::from_outputs(&outputs)
                .map_err(|e| Error::Aws(format!("stack {stack}: {e}")))?
        }
        None => Resources::from_prefix(&sdk, &args.prefix)
            .await
            .map_err(|e| Error::Aws(e.to_string()))?,
    };
    Ok(Admin::new(&sdk, resources))
}
