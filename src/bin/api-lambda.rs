//! The API Lambda: the API router behind an API Gateway HTTP API
//! (payload format 2.0), on the `provided.al2023` custom runtime.

use std::sync::Arc;

use axum::response::IntoResponse;
use lambda_http::{service_fn, Request};
use secrets_rotation::api::aws::AwsBackend;
use secrets_rotation::api::{self, ApiConfig, ApiError, AppState};
use secrets_rotation::logging;
use secrets_rotation::store::aws::client_from_env;
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    logging::init(true);
    // Configuration is read once. A bad one is logged at init (naming the
    // variable) and every request gets an opaque 500.
    let state = match ApiConfig::from_env() {
        Ok(config) => {
            let backend = Arc::new(AwsBackend::new(client_from_env().await));
            AppState::new(config, backend)
        }
        Err(e) => Err(e),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(event = "bad_configuration", error = %e, "invalid configuration");
            return lambda_http::run(service_fn(|_req: Request| async {
                Ok::<_, lambda_http::Error>(
                    ApiError::Internal("bad configuration".into()).into_response(),
                )
            }))
            .await;
        }
    };
    let app = api::router(state);
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(api::lambda::from_lambda(req)).await;
            Ok::<_, lambda_http::Error>(match resp {
                Ok(r) => r,
                Err(never) => match never {},
            })
        }
    }))
    .await
}
