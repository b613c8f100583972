//! The store conformance suite against the AWS SDK store and the emulator.
#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::*;
use secrets_rotation::store::aws::AwsStore;
use secrets_rotation::store::conformance::{self, Deviations, Fixture};

struct MotoFixture;

#[async_trait]
impl Fixture for MotoFixture {
    async fn create(&self, name: &str, value: &str) -> String {
        create_secret(name, value, &[]).await
    }
    async fn begin_rotation(&self, secret_id: &str, token: &str) {
        begin(secret_id, token).await;
    }
}

#[tokio::test]
async fn aws_store_conforms_against_the_emulator() {
    let store = AwsStore::new(sm_client());
    let dev = Deviations {
        // moto: PutSecretValue with a used token and a different value
        // overwrites the version instead of ResourceExistsException.
        same_token_different_value_overwrites: true,
    };
    conformance::run(&store, &MotoFixture, &unique("conf"), dev).await;
}
