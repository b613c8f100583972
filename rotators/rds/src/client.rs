//! The RDS API client, built on first use, and what the rotators read from
//! it. SDK errors are translated here, once: the error code is kept, the
//! service's message is not (it is never needed and never echoed).

use std::fmt;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::{DbCluster, DbInstance, Filter};
use aws_sdk_rds::Client;
use rotation_core::{ExposeSecret, RotatorError, SecretString};
use tokio::sync::OnceCell;

/// An RDS client created on first use from the standard AWS configuration
/// (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_RDS`, `AWS_REGION`, credentials),
/// so that secrets without RDS identifiers cost nothing, not even at cold
/// start. Clones share one client.
#[derive(Clone, Default)]
pub struct LazyRds {
    cell: Arc<OnceCell<Client>>,
}

impl fmt::Debug for LazyRds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyRds")
            .field("initialized", &self.cell.initialized())
            .finish()
    }
}

impl LazyRds {
    /// A client loaded from the environment on first use.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// A client built by the caller (tests, or a `main` that already has one).
    pub fn with_client(client: Client) -> Self {
        Self {
            cell: Arc::new(OnceCell::new_with(Some(client))),
        }
    }

    /// Whether the client has been built (tests check that secrets without
    /// identifiers never build it).
    pub fn is_initialized(&self) -> bool {
        self.cell.initialized()
    }

    pub async fn client(&self) -> &Client {
        self.cell
            .get_or_init(|| async {
                let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
                Client::new(&shared)
            })
            .await
    }

    /// DescribeDBInstances for one identifier.
    pub async fn instance(&self, id: &str) -> Result<DbInstance, RotatorError> {
        let out = self
            .client()
            .await
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| translate("DescribeDBInstances", instance_target(id), e))?;
        out.db_instances()
            .iter()
            .find(|i| i.db_instance_identifier() == Some(id))
            .cloned()
            .ok_or_else(|| not_found(&instance_target(id)))
    }

    /// DescribeDBInstances filtered by `filter` (`db-instance-id`,
    /// `db-cluster-id`) with `values`: the endpoints of replicas or members.
    pub async fn instances_where(
        &self,
        filter: &str,
        values: &[String],
        target: &str,
    ) -> Result<Vec<DbInstance>, RotatorError> {
        let out = self
            .client()
            .await
            .describe_db_instances()
            .filters(
                Filter::builder()
                    .name(filter)
                    .set_values(Some(values.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| translate("DescribeDBInstances", target.to_owned(), e))?;
        Ok(out.db_instances().to_vec())
    }

    /// DescribeDBClusters for one identifier.
    pub async fn cluster(&self, id: &str) -> Result<DbCluster, RotatorError> {
        let out = self
            .client()
            .await
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| translate("DescribeDBClusters", cluster_target(id), e))?;
        out.db_clusters()
            .iter()
            .find(|c| c.db_cluster_identifier() == Some(id))
            .cloned()
            .ok_or_else(|| not_found(&cluster_target(id)))
    }

    /// ModifyDBInstance `MasterUserPassword` with `ApplyImmediately`.
    pub async fn set_instance_password(
        &self,
        id: &str,
        password: &SecretString,
    ) -> Result<(), RotatorError> {
        self.client()
            .await
            .modify_db_instance()
            .db_instance_identifier(id)
            .master_user_password(password.expose_secret())
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| translate("ModifyDBInstance", instance_target(id), e))?;
        Ok(())
    }

    /// ModifyDBCluster `MasterUserPassword` with `ApplyImmediately`.
    pub async fn set_cluster_password(
        &self,
        id: &str,
        password: &SecretString,
    ) -> Result<(), RotatorError> {
        self.client()
            .await
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .master_user_password(password.expose_secret())
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| translate("ModifyDBCluster", cluster_target(id), e))?;
        Ok(())
    }
}

pub(crate) fn instance_target(id: &str) -> String {
    format!("RDS DB instance '{id}'")
}

pub(crate) fn cluster_target(id: &str) -> String {
    format!("RDS DB cluster '{id}'")
}

fn not_found(target: &str) -> RotatorError {
    RotatorError::Target {
        target: target.to_owned(),
        reason: "it does not exist in this account and region".to_owned(),
    }
}

/// One translation of an SDK error. The AWS message is dropped: only the
/// error code (an id) is reported. A refused `MasterUserPassword` is
/// `PasswordRejected`, so that the engine abandons the version and the next
/// rotation generates a new password.
fn translate<E, R>(operation: &'static str, target: String, err: SdkError<E, R>) -> RotatorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            RotatorError::Unreachable {
                target: format!("the RDS API for {target}"),
                source: format!("{operation}: no usable response").into(),
            }
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            match code {
                "DBInstanceNotFound"
                | "DBInstanceNotFoundFault"
                | "DBClusterNotFoundFault"
                | "DBClusterNotFound" => not_found(&target),
                "InvalidParameterValue" | "InvalidParameterCombination"
                    if operation.starts_with("Modify") =>
                {
                    RotatorError::PasswordRejected {
                        target,
                        reason: format!("{operation} failed with {code}"),
                    }
                }
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                    RotatorError::Unreachable {
                        target: format!("the RDS API for {target}"),
                        source: format!("{operation}: {code}").into(),
                    }
                }
                _ => RotatorError::Target {
                    target,
                    reason: format!("{operation} failed with {code}"),
                },
            }
        }
        _ => RotatorError::Target {
            target,
            reason: format!("{operation} could not be sent"),
        },
    }
}
