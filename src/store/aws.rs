//! The AWS Secrets Manager store, on the AWS SDK.
//!
//! Endpoint: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_SECRETS_MANAGER`) as
//! the SDK defines it; `SECRETS_MANAGER_ENDPOINT`, the variable AWS's rotation
//! templates use, takes precedence when set.

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretDescription, SecretStore, Selector, StoreError, VersionValue, AWSPENDING};

#[derive(Debug, Clone)]
pub struct AwsStore {
    client: Client,
}

/// Builds a Secrets Manager client from the environment, once, in `main`.
pub async fn client_from_env() -> Client {
    let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(&shared);
    if let Some(ep) = std::env::var("SECRETS_MANAGER_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
    {
        builder = builder.endpoint_url(ep.trim());
    }
    Client::from_conf(builder.build())
}

impl AwsStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn from_env() -> Self {
        Self::new(client_from_env().await)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Translates an SDK error once, at the boundary, and classifies it as
/// transient or permanent. AWS error messages carry ids, never values.
pub fn translate<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => StoreError::Transient {
            operation,
            message: "no response from Secrets Manager".to_owned(),
        },
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            match code.as_str() {
                "ResourceNotFoundException" => StoreError::NotFound { what: message },
                "InvalidRequestException" | "InvalidParameterException" => {
                    StoreError::InvalidRequest { code, message }
                }
                "ThrottlingException"
                | "InternalServiceError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "RequestTimeout" => StoreError::Transient { operation, message },
                _ => StoreError::Other {
                    operation,
                    code,
                    message,
                },
            }
        }
        SdkError::ResponseError(_) => StoreError::Transient {
            operation,
            message: "unreadable response from Secrets Manager".to_owned(),
        },
        _ => StoreError::Other {
            operation,
            code: "ClientError".to_owned(),
            message: "the request could not be built".to_owned(),
        },
    }
}

#[async_trait]
impl SecretStore for AwsStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| translate("DescribeSecret", e))?;
        let mut d = SecretDescription::new(
            out.arn().unwrap_or(secret_id),
            out.name().unwrap_or(secret_id),
        );
        d.rotation_enabled = out.rotation_enabled().unwrap_or(false);
        if let Some(map) = out.version_ids_to_stages() {
            d.versions = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        d.tags = out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect();
        Ok(d)
    }

    async fn get(&self, secret_id: &str, which: Selector<'_>) -> Result<VersionValue, StoreError> {
        let req = self.client.get_secret_value().secret_id(secret_id);
        let req = match which {
            Selector::Stage(stage) => req.version_stage(stage),
            Selector::Version { id, stage } => req.version_id(id).version_stage(stage),
        };
        let out = req
            .send()
            .await
            .map_err(|e| translate("GetSecretValue", e))?;
        let version_id = out.version_id().unwrap_or_default().to_owned();
        match out.secret_string() {
            Some(s) => Ok(VersionValue {
                version_id,
                value: SecretString::from(s.to_owned()),
            }),
            None => Err(StoreError::InvalidRequest {
                code: "BinarySecret".to_owned(),
                message: format!(
                    "version {version_id} holds SecretBinary; rotation needs SecretString"
                ),
            }),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
    ) -> Result<(), StoreError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value.expose_secret())
            .version_stages(AWSPENDING)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match translate("PutSecretValue", e) {
                StoreError::Other { code, .. } if code == "ResourceExistsException" => {
                    StoreError::TokenConflict {
                        token: token.to_owned(),
                    }
                }
                other => other,
            })
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_move_to_version_id(move_to.map(str::to_owned))
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| translate("UpdateSecretVersionStage", e))
    }
}
