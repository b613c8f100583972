//! The rotation Lambda: a native Secrets Manager rotation function on the
//! `provided.al2023` custom runtime.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use rotation_core::PasswordPolicy;
use secrets_rotation::store::aws::AwsStore;
use secrets_rotation::{lambda, logging, Engine, Registry};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init(true);
    // Configuration is read once. A bad one is logged at init and answers
    // every invocation with a ConfigurationError naming the variable, so that
    // Secrets Manager's rotation status shows the cause.
    let policy = match PasswordPolicy::from_env() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(event = "bad_configuration", error = %e, "invalid configuration");
            let message = e.to_string();
            return lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
                let message = message.clone();
                async move {
                    Err::<(), Diagnostic>(Diagnostic {
                        error_type: "ConfigurationError".to_owned(),
                        error_message: message,
                    })
                }
            }))
            .await;
        }
    };
    let store = AwsStore::from_env().await;
    let engine = Arc::new(Engine::new(Arc::new(store), Registry::default(), policy));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let engine = engine.clone();
        async move { lambda::handle(&engine, event).await }
    }))
    .await
}
