//! Copying a role's rights to its alternate: attributes, role memberships
//! and privileges on the objects of the secret's database.
//!
//! AWS's template only makes the clone a member of the original
//! (`GRANT original TO clone`): role attributes (CREATEDB, CONNECTION LIMIT,
//! ...) and the original's own memberships granted WITH ADMIN OPTION are lost,
//! and the clone's rights vanish when the original is dropped or made
//! NOINHERIT. Here every right is read from the catalogs and granted to the
//! alternate explicitly, additively, so that each step can be repeated.
//!
//! Covered: LOGIN-role attributes, memberships (with ADMIN OPTION), and
//! privileges (with GRANT OPTION) on tables, views, sequences, columns,
//! schemas, functions/procedures and databases. An owner's implicit
//! privileges are granted explicitly; ownership itself is not transferred.
//! Not covered: default privileges, per-role settings, large objects, types,
//! foreign servers, tablespaces and objects in other databases.

use std::collections::BTreeSet;

use rotation_core::RotatorError;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::target::{quote_ident, Target};

/// One privilege on one object, as `GRANT` wants it. Object names come from
/// PostgreSQL already quoted (`regclass`, `regprocedure`, `quote_ident`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Privilege {
    pub kind: String,
    pub object: String,
    pub column: String,
    pub privilege: String,
    pub grantable: bool,
}

impl Privilege {
    fn grant_sql(&self, to: &str) -> Option<String> {
        const KNOWN: [&str; 13] = [
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "TRUNCATE",
            "REFERENCES",
            "TRIGGER",
            "EXECUTE",
            "USAGE",
            "CREATE",
            "CONNECT",
            "TEMPORARY",
            "MAINTAIN",
        ];
        const KINDS: [&str; 6] = [
            "TABLE", "SEQUENCE", "COLUMN", "SCHEMA", "DATABASE", "ROUTINE",
        ];
        if !KNOWN.contains(&self.privilege.as_str()) || !KINDS.contains(&self.kind.as_str()) {
            return None;
        }
        let with = if self.grantable {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        Some(if self.kind == "COLUMN" {
            format!(
                "GRANT {} ({}) ON TABLE {} TO {}{with}",
                self.privilege,
                self.column,
                self.object,
                quote_ident(to)
            )
        } else {
            format!(
                "GRANT {} ON {} {} TO {}{with}",
                self.privilege,
                self.kind,
                self.object,
                quote_ident(to)
            )
        })
    }
}

/// The rights of one role that can be copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rights {
    pub exists: bool,
    /// (attribute keyword, set) for SUPERUSER, CREATEROLE, CREATEDB,
    /// REPLICATION, BYPASSRLS, INHERIT.
    pub attributes: Vec<(&'static str, bool)>,
    pub connection_limit: i32,
    /// (role name, admin option).
    pub memberships: BTreeSet<(String, bool)>,
    pub privileges: BTreeSet<Privilege>,
}

const PRIVILEGES_SQL: &str = r#"
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1),
ns AS (SELECT oid FROM pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema')
         AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%')
SELECT 'TABLE', c.oid::regclass::text, '', a.privilege_type, a.is_grantable
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
 WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND c.relnamespace IN (SELECT oid FROM ns)
   AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'SEQUENCE', c.oid::regclass::text, '', a.privilege_type, a.is_grantable
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) a
 WHERE c.relkind = 'S' AND c.relnamespace IN (SELECT oid FROM ns)
   AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'COLUMN', c.oid::regclass::text, quote_ident(att.attname), a.privilege_type, a.is_grantable
  FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid, aclexplode(att.attacl) a
 WHERE att.attacl IS NOT NULL AND NOT att.attisdropped AND c.relnamespace IN (SELECT oid FROM ns)
   AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'SCHEMA', quote_ident(n.nspname), '', a.privilege_type, a.is_grantable
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.oid IN (SELECT oid FROM ns) AND a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'DATABASE', quote_ident(d.datname), '', a.privilege_type, a.is_grantable
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE a.grantee = (SELECT oid FROM r)
UNION ALL
SELECT 'ROUTINE', p.oid::regprocedure::text, '', a.privilege_type, a.is_grantable
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace IN (SELECT oid FROM ns) AND p.prokind IN ('f', 'p')
   AND a.grantee = (SELECT oid FROM r)
"#;

fn failed(target: &Target, what: &str, e: &tokio_postgres::Error) -> RotatorError {
    let reason = match e.code() {
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "{what} failed with SQLSTATE {}: the master login lacks the right to do it",
            c.code()
        ),
        Some(c) => format!("{what} failed with SQLSTATE {}", c.code()),
        None => format!("connection lost during {what}"),
    };
    RotatorError::Target {
        target: target.endpoint(),
        reason,
    }
}

/// Reads what `role` holds, through any login (the catalogs are public).
pub async fn rights(client: &Client, target: &Target, role: &str) -> Result<Rights, RotatorError> {
    let attrs = client
        .query_opt(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, \
             rolinherit, rolconnlimit FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await
        .map_err(|e| failed(target, "reading role attributes", &e))?;
    let Some(attrs) = attrs else {
        return Ok(Rights::default());
    };
    let attributes = [
        "SUPERUSER",
        "CREATEROLE",
        "CREATEDB",
        "REPLICATION",
        "BYPASSRLS",
        "INHERIT",
    ]
    .into_iter()
    .enumerate()
    .map(|(i, k)| (k, attrs.get::<_, bool>(i)))
    .collect();
    let memberships = client
        .query(
            "SELECT g.rolname::text, m.admin_option FROM pg_auth_members m \
             JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
             WHERE u.rolname = $1",
            &[&role],
        )
        .await
        .map_err(|e| failed(target, "reading role memberships", &e))?
        .into_iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
        .collect();
    let privileges = client
        .query(PRIVILEGES_SQL, &[&role])
        .await
        .map_err(|e| failed(target, "reading privileges", &e))?
        .into_iter()
        .map(|r| Privilege {
            kind: r.get(0),
            object: r.get(1),
            column: r.get(2),
            privilege: r.get(3),
            grantable: r.get(4),
        })
        .collect();
    Ok(Rights {
        exists: true,
        attributes,
        connection_limit: attrs.get(6),
        memberships,
        privileges,
    })
}

/// What `to` lacks of `from`'s rights, as statements (none carries a value).
pub fn missing(from: &Rights, from_name: &str, to: &Rights, to_name: &str) -> Vec<String> {
    let mut sql = Vec::new();
    let mut attrs = Vec::new();
    for (k, set) in &from.attributes {
        let has = to
            .attributes
            .iter()
            .any(|(tk, tset)| tk == k && tset == set);
        if *k == "INHERIT" {
            if !has {
                attrs.push(if *set { "INHERIT" } else { "NOINHERIT" }.to_owned());
            }
        } else if *set && !has {
            attrs.push((*k).to_owned());
        }
    }
    if from.connection_limit != to.connection_limit {
        attrs.push(format!("CONNECTION LIMIT {}", from.connection_limit));
    }
    if !attrs.is_empty() {
        sql.push(format!(
            "ALTER ROLE {} WITH {}",
            quote_ident(to_name),
            attrs.join(" ")
        ));
    }
    for (role, admin) in &from.memberships {
        if role == to_name || role == from_name || to.memberships.contains(&(role.clone(), *admin))
        {
            continue;
        }
        if !*admin && to.memberships.contains(&(role.clone(), true)) {
            continue;
        }
        sql.push(format!(
            "GRANT {} TO {}{}",
            quote_ident(role),
            quote_ident(to_name),
            if *admin { " WITH ADMIN OPTION" } else { "" }
        ));
    }
    for p in &from.privileges {
        if to.privileges.contains(p) {
            continue;
        }
        if !p.grantable {
            let with_option = Privilege {
                grantable: true,
                ..p.clone()
            };
            if to.privileges.contains(&with_option) {
                continue;
            }
        }
        sql.extend(p.grant_sql(to_name));
    }
    sql
}

/// Creates `to` if missing (LOGIN, no password yet) and grants it every
/// right of `from` it lacks, in one transaction.
pub async fn copy_rights(
    master: &Client,
    target: &Target,
    from: &str,
    to: &str,
) -> Result<usize, RotatorError> {
    let src = rights(master, target, from).await?;
    if !src.exists {
        return Err(RotatorError::Target {
            target: target.endpoint(),
            reason: format!("role {from} does not exist"),
        });
    }
    let dst = rights(master, target, to).await?;
    let mut statements = Vec::new();
    if !dst.exists {
        // No password: nobody can log in until the verifier is set.
        statements.push(format!("CREATE ROLE {} LOGIN", quote_ident(to)));
    }
    statements.extend(missing(&src, from, &dst, to));
    if statements.is_empty() {
        return Ok(0);
    }
    let batch = format!("BEGIN;\n{};\nCOMMIT;", statements.join(";\n"));
    if let Err(e) = master.batch_execute(&batch).await {
        let _ = master.batch_execute("ROLLBACK").await;
        return Err(failed(
            target,
            &format!("copying the rights of {from} to {to}"),
            &e,
        ));
    }
    Ok(statements.len())
}

/// A readable list of what `to` lacks, for testSecret (names only).
pub fn describe_missing(from: &Rights, from_name: &str, to: &Rights, to_name: &str) -> String {
    let n = missing(from, from_name, to, to_name).len();
    format!("user {to_name} lacks {n} of the rights of {from_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rights_become_statements() {
        let from = Rights {
            exists: true,
            attributes: vec![("CREATEDB", true), ("SUPERUSER", false), ("INHERIT", true)],
            connection_limit: 5,
            memberships: BTreeSet::from([("readers".to_owned(), true), ("app".to_owned(), false)]),
            privileges: BTreeSet::from([
                Privilege {
                    kind: "TABLE".into(),
                    object: "public.\"t;x\"".into(),
                    column: String::new(),
                    privilege: "SELECT".into(),
                    grantable: false,
                },
                Privilege {
                    kind: "TABLE".into(),
                    object: "t".into(),
                    column: String::new(),
                    privilege: "DROP EVERYTHING".into(),
                    grantable: false,
                },
            ]),
        };
        let to = Rights {
            exists: true,
            attributes: vec![("CREATEDB", false), ("SUPERUSER", false), ("INHERIT", true)],
            connection_limit: -1,
            ..Default::default()
        };
        let sql = missing(&from, "app", &to, "app_clone");
        assert_eq!(
            sql,
            vec![
                "ALTER ROLE \"app_clone\" WITH CREATEDB CONNECTION LIMIT 5".to_owned(),
                "GRANT \"readers\" TO \"app_clone\" WITH ADMIN OPTION".to_owned(),
                "GRANT SELECT ON TABLE public.\"t;x\" TO \"app_clone\"".to_owned(),
            ]
        );
        let same = missing(&from, "app", &from, "app_clone");
        assert!(same.is_empty(), "{same:?}");
    }
}
