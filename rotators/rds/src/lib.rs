//! RDS awareness for the database rotators, on `aws-sdk-rds`, kept in its
//! own crate so that the large SDK stays out of the driver crates.
//!
//! - [`check_endpoint`]: a secret naming `dbInstanceIdentifier` or
//!   `dbClusterIdentifier` must point at that instance's or cluster's
//!   endpoint (or a read replica's / member's), checked against the RDS API.
//! - [`RdsChecked`]: wraps a database rotator and runs that check, for the
//!   secret and its master secret, before setSecret and testSecret touch the
//!   target. No identifier, no RDS call.
//! - [`RdsMasterRotator`] (`rds-master`): rotates an RDS master password
//!   with `ModifyDBInstance` / `ModifyDBCluster` instead of SQL.
//!
//! The RDS client ([`LazyRds`]) is built on first use, so cold start and
//! secrets without identifiers pay nothing.

mod check;
mod checked;
mod client;
mod master;

pub use check::{
    check_cluster, check_endpoint, check_identifier, check_instance, cluster_endpoints,
    host_matches, identifiers, instance_endpoints, Identifier, CLUSTER_FIELD, INSTANCE_FIELD,
};
pub use checked::RdsChecked;
pub use client::LazyRds;
pub use master::RdsMasterRotator;

/// The tag value that selects [`RdsMasterRotator`].
pub const RDS_MASTER: &str = "rds-master";
