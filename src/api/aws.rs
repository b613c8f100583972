//! [`SecretsBackend`] on AWS Secrets Manager through the SDK. Errors are
//! translated once, by [`crate::store::aws::translate`].

use async_trait::async_trait;
use aws_sdk_secretsmanager::primitives::{DateTime, DateTimeFormat};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_sdk_secretsmanager::Client;
use secrecy::{SecretBox, SecretString};

use super::backend::{Payload, SecretMetadata, SecretPage, SecretValue, SecretsBackend, Which};
use crate::store::aws::translate;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct AwsBackend {
    client: Client,
}

impl AwsBackend {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn date(d: Option<&DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(DateTimeFormat::DateTime).ok())
}

#[async_trait]
impl SecretsBackend for AwsBackend {
    async fn get(&self, name: &str, which: &Which) -> Result<SecretValue, StoreError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_stage(which.stage.clone())
            .set_version_id(which.version_id.clone())
            .send()
            .await
            .map_err(|e| translate("GetSecretValue", e))?;
        let version_id = out.version_id().unwrap_or_default().to_owned();
        let payload = if let Some(s) = out.secret_string() {
            Payload::String(SecretString::from(s.to_owned()))
        } else if let Some(b) = out.secret_binary() {
            Payload::Binary(SecretBox::new(Box::new(b.as_ref().to_vec())))
        } else {
            return Err(StoreError::NotFound {
                what: format!("version {version_id} of {name} has no value"),
            });
        };
        Ok(SecretValue {
            name: out.name().unwrap_or(name).to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            version_id,
            version_stages: out.version_stages().to_vec(),
            payload,
        })
    }

    async fn describe(&self, name: &str) -> Result<SecretMetadata, StoreError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| translate("DescribeSecret", e))?;
        let rules = out.rotation_rules();
        Ok(SecretMetadata {
            name: out.name().unwrap_or(name).to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            description: out.description().map(str::to_owned),
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            rotation_lambda_arn: out
                .rotation_lambda_arn()
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            automatically_after_days: rules.and_then(|r| r.automatically_after_days()),
            schedule_expression: rules
                .and_then(|r| r.schedule_expression())
                .map(str::to_owned),
            duration: rules.and_then(|r| r.duration()).map(str::to_owned),
            last_rotated_date: date(out.last_rotated_date()),
            next_rotation_date: date(out.next_rotation_date()),
            last_changed_date: date(out.last_changed_date()),
            created_date: date(out.created_date()),
            versions: out
                .version_ids_to_stages()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    async fn list(
        &self,
        prefix: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<SecretPage, StoreError> {
        let mut req = self
            .client
            .list_secrets()
            .max_results(100)
            .set_next_token(next_token.map(str::to_owned));
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
            req = req.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(p)
                    .build(),
            );
        }
        let out = req.send().await.map_err(|e| translate("ListSecrets", e))?;
        let secrets = out
            .secret_list()
            .iter()
            .map(|s| {
                let rules = s.rotation_rules();
                SecretMetadata {
                    name: s.name().unwrap_or_default().to_owned(),
                    arn: s.arn().unwrap_or_default().to_owned(),
                    description: s.description().map(str::to_owned),
                    rotation_enabled: s.rotation_enabled().unwrap_or(false),
                    rotation_lambda_arn: s
                        .rotation_lambda_arn()
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned),
                    automatically_after_days: rules.and_then(|r| r.automatically_after_days()),
                    schedule_expression: rules
                        .and_then(|r| r.schedule_expression())
                        .map(str::to_owned),
                    duration: rules.and_then(|r| r.duration()).map(str::to_owned),
                    last_rotated_date: date(s.last_rotated_date()),
                    next_rotation_date: date(s.next_rotation_date()),
                    last_changed_date: date(s.last_changed_date()),
                    created_date: date(s.created_date()),
                    versions: Default::default(),
                }
            })
            .collect();
        Ok(SecretPage {
            secrets,
            next_token: out.next_token().map(str::to_owned),
        })
    }

    async fn rotate(&self, name: &str, token: &str) -> Result<String, StoreError> {
        // No RotationLambdaARN and no rules: AWS then rotates with what is
        // configured, and the caller needs no lambda:InvokeFunction.
        let out = self
            .client
            .rotate_secret()
            .secret_id(name)
            .client_request_token(token)
            .rotate_immediately(true)
            .send()
            .await
            .map_err(|e| translate("RotateSecret", e))?;
        Ok(out.version_id().unwrap_or(token).to_owned())
    }
}
