//! Local mode: play Secrets Manager's part of a rotation against an AWS API
//! endpoint (normally the emulator) and run the real rotation binary through
//! the Lambda Runtime API, plus a redacted view of secrets for people.

use std::path::Path;
use std::time::Duration;

use aws_sdk_secretsmanager::types::RotationRulesType;
use aws_sdk_secretsmanager::Client;
use rotation_core::json::{classify, SecretShape};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::runtime_api::{FunctionError, FunctionProcess, RuntimeApi};
use crate::store::aws::translate;
use crate::store::{SecretDescription, StoreError, AWSPENDING};
use crate::Step;

/// Fields shown in clear in a redacted view: they name a target, not a
/// credential. Every other value is replaced by its length.
const CLEAR_FIELDS: [&str; 7] = [
    "engine",
    "host",
    "port",
    "username",
    "dbname",
    "ssl",
    "masterarn",
];

/// A view of a secret value that is safe to print.
pub fn redact(value: &SecretString) -> String {
    match classify(value) {
        Ok(SecretShape::Plain) => format!(
            "<plain string, {} chars>",
            value.expose_secret().chars().count()
        ),
        Ok(SecretShape::Object(_)) => {
            let parsed: serde_json::Map<String, Value> =
                serde_json::from_str(value.expose_secret()).unwrap_or_default();
            let shown: serde_json::Map<String, Value> = parsed
                .into_iter()
                .map(|(k, v)| {
                    let clear = CLEAR_FIELDS.contains(&k.as_str())
                        && matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
                    let v = if clear {
                        v
                    } else {
                        Value::String(format!("<redacted, {} chars>", v.to_string().len()))
                    };
                    (k, v)
                })
                .collect();
            Value::Object(shown).to_string()
        }
        Err(e) => format!("<unrotatable: {e}>"),
    }
}

/// Labels of a secret, one line per version, newest first by label.
pub fn labels(desc: &SecretDescription) -> String {
    let mut lines: Vec<String> = desc
        .versions
        .iter()
        .map(|(v, s)| format!("  {v}  [{}]", s.join(", ")))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// RotateSecret's part before the function runs: the pending version `token`
/// with `AWSPENDING` and no value. The emulator cannot run a Lambda, so it
/// answers ResourceNotFoundException for the function after making the
/// version; that answer is accepted only when the version is really there.
pub async fn begin_rotation(
    client: &Client,
    secret_id: &str,
    token: &str,
    lambda_arn: &str,
) -> Result<(), StoreError> {
    let result = client
        .rotate_secret()
        .secret_id(secret_id)
        .client_request_token(token)
        .rotation_lambda_arn(lambda_arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = translate("RotateSecret", e);
            if err.is_not_found() {
                let d = crate::store::aws::AwsStore::new(client.clone());
                let desc = crate::store::SecretStore::describe(&d, secret_id).await?;
                if desc.has_stage(token, AWSPENDING) {
                    return Ok(());
                }
            }
            Err(err)
        }
    }
}

/// The four steps through a running function, stopping at the first failure.
pub async fn run_steps(
    api: &RuntimeApi,
    secret_id: &str,
    token: &str,
) -> Result<(), (Step, FunctionError)> {
    for step in Step::ALL {
        let event =
            json!({"SecretId": secret_id, "ClientRequestToken": token, "Step": step.as_str()});
        api.invoke(event, Duration::from_secs(60))
            .await
            .map_err(|e| (step, e))?;
    }
    Ok(())
}

/// Starts `binary` under a fresh Runtime API with the current environment.
pub async fn start_function(binary: &Path) -> std::io::Result<(RuntimeApi, FunctionProcess)> {
    let api = RuntimeApi::start().await?;
    let process = FunctionProcess::spawn(binary, &api, &[])?;
    Ok((api, process))
}
