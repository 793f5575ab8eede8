//! SigV4 signing of API requests, for a stack deployed with the default
//! `ApiAuth=AWS_IAM`: API Gateway then refuses any request not signed by a
//! principal allowed `execute-api:Invoke`.

use crate::error::Error;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// The service name API Gateway's invoke URLs are signed for.
const SERVICE: &str = "execute-api";

/// Signs requests with the environment's AWS credentials and region.
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

impl Signer {
    /// Credentials and region from the usual AWS environment, profile or role.
    pub async fn from_env() -> Result<Signer, Error> {
        let sdk = aws_ports::sdk_config().await;
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| Error::Signing("no AWS credentials found".into()))?;
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| Error::Signing("no AWS region set (AWS_REGION)".into()))?;
        Ok(Signer {
            credentials,
            region,
        })
    }

    #[cfg(test)]
    fn fixed(credentials: aws_credential_types::Credentials, region: &str) -> Signer {
        Signer {
            credentials: SharedCredentialsProvider::new(credentials),
            region: region.to_string(),
        }
    }

    /// The headers to add to a request of `method` to `url` with `headers`
    /// and `body` (Authorization, X-Amz-Date, and the session token if any).
    pub async fn headers(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, Error> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| Error::Signing(format!("cannot load AWS credentials: {e}")))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::Signing(format!("{e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::Signing(format!("cannot sign a request to {url}: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| Error::Signing(format!("cannot sign a request to {url}: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adds_an_authorization_for_execute_api() {
        let keys = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "t");
        let signer = Signer::fixed(keys, "eu-west-1");
        let headers = signer
            .headers(
                "POST",
                "https://abc.execute-api.eu-west-1.amazonaws.com/prod/sumArray",
                &[("content-type", "application/json")],
                b"[1,2,3]",
            )
            .await
            .expect("signed");
        let authorization = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .expect("an Authorization header");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(
            authorization.contains("/eu-west-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert!(headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-date")));
    }
}
