//! The rotation Lambda's handler: event parsing and error mapping.

use aws_lambda_events::event::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::{Engine, EngineError};

impl From<EngineError> for Diagnostic {
    fn from(e: EngineError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

fn field<'a>(event: &'a Value, name: &str) -> Result<&'a str, EngineError> {
    match event.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(EngineError::InvalidEvent(format!(
            "{name} must be a string"
        ))),
        None => Err(EngineError::InvalidEvent(format!("missing field {name}"))),
    }
}

/// Parses a Secrets Manager rotation event (`SecretId`, `ClientRequestToken`,
/// `Step`). The fields are checked one by one first, so that a malformed
/// event gets an error naming the field rather than a serde message.
pub fn parse_event(event: Value) -> Result<SecretsManagerSecretRotationEvent, EngineError> {
    if !event.is_object() {
        return Err(EngineError::InvalidEvent(
            "the event must be a JSON object with SecretId, ClientRequestToken and Step".into(),
        ));
    }
    for name in ["SecretId", "ClientRequestToken", "Step"] {
        field(&event, name)?;
    }
    serde_json::from_value(event)
        .map_err(|_| EngineError::InvalidEvent("the event is not a rotation event".into()))
}

/// Runs one invocation. Secrets Manager ignores the result; `null` it is.
pub async fn handle(engine: &Engine, event: LambdaEvent<Value>) -> Result<(), Diagnostic> {
    let result = match parse_event(event.payload) {
        Ok(e) => engine
            .handle(&e.secret_id, &e.client_request_token, &e.step)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    result.map_err(|e| {
        error!(
            event = "rotation_step_failed",
            error_type = e.error_type(),
            error = %e,
            request_id = %event.context.request_id,
            "rotation step failed"
        );
        Diagnostic::from(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_events_name_the_problem() {
        let e = parse_event(json!([1])).unwrap_err();
        assert_eq!(e.error_type(), "InvalidEvent");
        let e = parse_event(json!({"SecretId": "s", "Step": "createSecret"})).unwrap_err();
        assert!(e.to_string().contains("ClientRequestToken"), "{e}");
        let e = parse_event(json!({"SecretId": 5, "ClientRequestToken": "t", "Step": "x"}))
            .unwrap_err();
        assert!(e.to_string().contains("SecretId must be a string"), "{e}");
        let ok =
            parse_event(json!({"SecretId": "s", "ClientRequestToken": "t", "Step": "setSecret"}))
                .unwrap();
        assert_eq!(ok.step, "setSecret");
    }
}
