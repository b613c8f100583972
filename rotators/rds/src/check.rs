//! The endpoint check: a secret that names an RDS DB instance or cluster
//! must point at that instance's or cluster's endpoint, so that a secret
//! cannot turn the rotator (and the master login it holds) on another
//! database.

use aws_sdk_rds::types::{DbCluster, DbInstance};
use rotation_core::{RotatorError, SecretJson};

use crate::client::{cluster_target, instance_target, LazyRds};

/// The secret JSON field naming a DB instance (AWS's template name).
pub const INSTANCE_FIELD: &str = "dbInstanceIdentifier";
/// The secret JSON field naming an Aurora / Multi-AZ DB cluster.
pub const CLUSTER_FIELD: &str = "dbClusterIdentifier";

/// What a secret names in RDS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Identifier {
    Instance(String),
    Cluster(String),
}

impl Identifier {
    /// `RDS DB instance 'x'` / `RDS DB cluster 'x'`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Instance(id) => instance_target(id),
            Self::Cluster(id) => cluster_target(id),
        }
    }
}

/// RDS identifiers: 1 to 63 letters, digits and hyphens. Anything else
/// (an ARN included) is refused before any API call, and is never echoed.
fn valid_identifier(id: &str) -> bool {
    !id.is_empty() && id.len() <= 63 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The identifiers a secret names (none, one or both fields).
pub fn identifiers(json: &SecretJson) -> Result<Vec<Identifier>, RotatorError> {
    let mut out = Vec::new();
    for (field, make) in [
        (
            INSTANCE_FIELD,
            Identifier::Instance as fn(String) -> Identifier,
        ),
        (CLUSTER_FIELD, Identifier::Cluster),
    ] {
        if let Some(id) = json.str_field(field)? {
            if !valid_identifier(id) {
                return Err(RotatorError::invalid(format!(
                    "field '{field}' must be an RDS identifier (1 to 63 letters, digits or hyphens)"
                )));
            }
            out.push(make(id.to_owned()));
        }
    }
    Ok(out)
}

fn norm(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` is one of `endpoints` (DNS names: case-insensitive, a
/// trailing dot ignored). Pure, so the match can be tested without RDS.
pub fn host_matches<'a>(host: &str, endpoints: impl IntoIterator<Item = &'a str>) -> bool {
    let host = norm(host);
    !host.is_empty() && endpoints.into_iter().any(|e| norm(e) == host)
}

/// An instance's own endpoint address.
pub fn instance_endpoints(instance: &DbInstance) -> Vec<&str> {
    instance
        .endpoint()
        .and_then(|e| e.address())
        .into_iter()
        .collect()
}

/// A cluster's writer, reader and custom endpoints (not its members').
pub fn cluster_endpoints(cluster: &DbCluster) -> Vec<&str> {
    cluster
        .endpoint()
        .into_iter()
        .chain(cluster.reader_endpoint())
        .chain(cluster.custom_endpoints().iter().map(String::as_str))
        .collect()
}

fn mismatch(id: &Identifier, also: &str) -> RotatorError {
    RotatorError::mismatch(format!(
        "the host named by the secret is not an endpoint of {}{also}; refusing to touch it",
        id.describe()
    ))
}

/// Checks that every host in `hosts` is an endpoint of `id`: for an
/// instance its own or a read replica's; for a cluster its writer, reader or
/// custom endpoint, or a member instance's. One DescribeDB* call; a second
/// (DescribeDBInstances filtered by replica or cluster id) only when a host
/// is not matched by the first and replicas or members exist.
pub async fn check_identifier(
    rds: &LazyRds,
    id: &Identifier,
    hosts: &[&str],
) -> Result<(), RotatorError> {
    match id {
        Identifier::Instance(name) => check_instance(rds, &rds.instance(name).await?, hosts).await,
        Identifier::Cluster(name) => check_cluster(rds, &rds.cluster(name).await?, hosts).await,
    }
}

fn all_match(hosts: &[&str], endpoints: &[&str]) -> bool {
    hosts
        .iter()
        .all(|h| host_matches(h, endpoints.iter().copied()))
}

/// [`check_identifier`] for an instance already described.
pub async fn check_instance(
    rds: &LazyRds,
    instance: &DbInstance,
    hosts: &[&str],
) -> Result<(), RotatorError> {
    let id = Identifier::Instance(instance.db_instance_identifier().unwrap_or("").to_owned());
    let mut endpoints = instance_endpoints(instance);
    if all_match(hosts, &endpoints) {
        return Ok(());
    }
    let replicas = instance.read_replica_db_instance_identifiers();
    if !replicas.is_empty() {
        let found = rds
            .instances_where("db-instance-id", replicas, &id.describe())
            .await?;
        endpoints.extend(found.iter().flat_map(instance_endpoints));
        if all_match(hosts, &endpoints) {
            return Ok(());
        }
    }
    Err(mismatch(&id, " nor of its read replicas"))
}

/// [`check_identifier`] for a cluster already described.
pub async fn check_cluster(
    rds: &LazyRds,
    cluster: &DbCluster,
    hosts: &[&str],
) -> Result<(), RotatorError> {
    let name = cluster.db_cluster_identifier().unwrap_or("").to_owned();
    let id = Identifier::Cluster(name.clone());
    let mut endpoints = cluster_endpoints(cluster);
    if all_match(hosts, &endpoints) {
        return Ok(());
    }
    if !cluster.db_cluster_members().is_empty() {
        let members = rds
            .instances_where("db-cluster-id", &[name], &id.describe())
            .await?;
        endpoints.extend(members.iter().flat_map(instance_endpoints));
        if all_match(hosts, &endpoints) {
            return Ok(());
        }
    }
    Err(mismatch(&id, " nor of its member instances"))
}

/// The check for one secret: every identifier it names must have `host`
/// as an endpoint. No identifier: no RDS call at all.
pub async fn check_endpoint(
    rds: &LazyRds,
    json: &SecretJson,
    host: &str,
) -> Result<(), RotatorError> {
    for id in identifiers(json)? {
        check_identifier(rds, &id, &[host]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::{DbClusterMember, Endpoint};

    #[test]
    fn host_comparison() {
        let eps = ["db1.abc.us-east-1.rds.amazonaws.com"];
        assert!(host_matches("DB1.abc.us-east-1.rds.amazonaws.com.", eps));
        assert!(!host_matches(
            "db1.abc.us-east-1.rds.amazonaws.com.evil.test",
            eps
        ));
        assert!(!host_matches("127.0.0.1", eps));
        assert!(!host_matches("", [""]));
    }

    #[test]
    fn endpoints_of_instances_and_clusters() {
        let i = DbInstance::builder()
            .db_instance_identifier("db1")
            .endpoint(
                Endpoint::builder()
                    .address("db1.x.rds.amazonaws.com")
                    .build(),
            )
            .build();
        assert_eq!(instance_endpoints(&i), ["db1.x.rds.amazonaws.com"]);
        let c = DbCluster::builder()
            .endpoint("c.cluster-x.rds.amazonaws.com")
            .reader_endpoint("c.cluster-ro-x.rds.amazonaws.com")
            .custom_endpoints("c-custom.cluster-custom-x.rds.amazonaws.com")
            .db_cluster_members(
                DbClusterMember::builder()
                    .db_instance_identifier("m")
                    .build(),
            )
            .build();
        let eps = cluster_endpoints(&c);
        assert!(host_matches(
            "c.cluster-ro-x.rds.amazonaws.com",
            eps.clone()
        ));
        assert!(host_matches(
            "c-custom.cluster-custom-x.rds.amazonaws.com",
            eps.clone()
        ));
        assert!(!host_matches("m.x.rds.amazonaws.com", eps));
    }

    #[test]
    fn identifier_fields() {
        let j = SecretJson::parse(
            &r#"{"dbInstanceIdentifier":"db-1","dbClusterIdentifier":"c1","password":"CANARY-id"}"#
                .into(),
        )
        .unwrap();
        assert_eq!(
            identifiers(&j).unwrap(),
            [
                Identifier::Instance("db-1".into()),
                Identifier::Cluster("c1".into())
            ]
        );
        let j = SecretJson::parse(&r#"{"password":"CANARY-id"}"#.into()).unwrap();
        assert!(identifiers(&j).unwrap().is_empty());
        for bad in [
            r#"{"dbInstanceIdentifier":"CANARY x"}"#,
            r#"{"dbInstanceIdentifier":""}"#,
            r#"{"dbClusterIdentifier":"arn:aws:rds:us-east-1:1:cluster:CANARY"}"#,
            r#"{"dbClusterIdentifier":7}"#,
        ] {
            let j = SecretJson::parse(&bad.into()).unwrap();
            let err = identifiers(&j).unwrap_err().to_string();
            assert!(!err.contains("CANARY"), "{err}");
        }
    }
}
