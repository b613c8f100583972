//! Accounts: the authentication plugin, the password statement, and the
//! replay of `SHOW GRANTS` for an alternate user.
//!
//! Nothing here logs or returns the text of `SHOW CREATE USER` or
//! `SHOW GRANTS`: MariaDB puts the password hash in both.

use rotation_core::{RotatorError, SecretString};

use crate::conn::Session;
use crate::target::{account, native_password_hash, quote_ident, quote_string, Target};

/// How an account authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plugin {
    /// `mysql_native_password`: set as a pre-computed `*HEX` hash.
    Native,
    /// `caching_sha2_password` / `sha256_password` (MySQL): `IDENTIFIED BY`,
    /// which MySQL rewrites out of its logs.
    Sha2(String),
    /// Anything else (`ed25519`, `unix_socket`, none, ...): not supported.
    Other(String),
}

/// A plugin name safe to put in an error message.
fn printable(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        name.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

/// Reads the plugin from `SHOW CREATE USER`'s single row. The text right
/// after `CREATE USER <account>` is `IDENTIFIED BY PASSWORD '*..'`
/// (MariaDB, native), `IDENTIFIED VIA <plugin>` (MariaDB) or
/// `IDENTIFIED WITH '<plugin>'` (MySQL).
pub fn parse_plugin(show_create: &str, user: &str, host: &str) -> Plugin {
    let prefix = format!("CREATE USER {}", account(user, host));
    let rest = match show_create.strip_prefix(&prefix) {
        Some(r) => r,
        // MySQL 5.7 quotes with single quotes; fall back to the first space
        // after the account, which never contains " IDENTIFIED ".
        None => match show_create.find(" IDENTIFIED ") {
            Some(i) => &show_create[i..],
            None => return Plugin::Other("none".to_owned()),
        },
    };
    if rest.starts_with(" IDENTIFIED BY PASSWORD '*") {
        return Plugin::Native;
    }
    let name = ["IDENTIFIED VIA ", "IDENTIFIED WITH "]
        .iter()
        .find_map(|k| rest.strip_prefix(' ').and_then(|r| r.strip_prefix(k)))
        .map(|r| {
            r.split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c| c == '\'' || c == '`' || c == '"')
                .to_owned()
        });
    match name.as_deref() {
        Some("mysql_native_password") => Plugin::Native,
        Some(p @ ("caching_sha2_password" | "sha256_password")) => Plugin::Sha2(p.to_owned()),
        Some(p) => Plugin::Other(printable(p)),
        None => Plugin::Other("none".to_owned()),
    }
}

/// Who runs the password statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The user changes its own password (single-user): no privilege needed.
    /// `retain` asks MySQL 8 to keep the current password as secondary.
    Own { retain: bool },
    /// A master login changes another account (alternating users) and lifts
    /// the `ACCOUNT LOCK` the account was created with.
    Master,
}

/// The statement that sets `user@host`'s password without the plaintext
/// reaching the server where the plugin allows it:
/// - MariaDB, `mysql_native_password`: the `*HEX` hash (`SET PASSWORD =
///   '*HEX'` for one's own account, `ALTER USER .. IDENTIFIED BY PASSWORD`
///   for another);
/// - MySQL, master: `IDENTIFIED WITH mysql_native_password AS '*HEX'`;
/// - MySQL, own account: `ALTER USER USER() IDENTIFIED BY '..'
///   [RETAIN CURRENT PASSWORD]`, the only form an unprivileged user may use;
///   MySQL rewrites the password out of its general, slow and binary logs.
pub fn password_sql(
    session: &Session,
    plugin: &Plugin,
    user: &str,
    host: &str,
    password: &SecretString,
    actor: Actor,
    target: &Target,
) -> Result<String, RotatorError> {
    use rotation_core::ExposeSecret;
    let acct = account(user, host);
    let unsupported = |p: &str| RotatorError::Target {
        target: target.endpoint(),
        reason: format!(
            "user {user} authenticates with plugin {p}, whose password this rotator cannot set"
        ),
    };
    let sql = match (session.mariadb, plugin, actor) {
        (true, Plugin::Native, Actor::Own { .. }) => {
            format!("SET PASSWORD = '{}'", native_password_hash(password))
        }
        (true, Plugin::Native, Actor::Master) => format!(
            "ALTER USER {acct} IDENTIFIED BY PASSWORD '{}' ACCOUNT UNLOCK",
            native_password_hash(password)
        ),
        (true, Plugin::Sha2(p) | Plugin::Other(p), _) => return Err(unsupported(p)),
        (false, Plugin::Other(p), _) => return Err(unsupported(p)),
        (false, _, Actor::Own { retain }) => format!(
            "ALTER USER USER() IDENTIFIED BY {}{}",
            quote_string(password.expose_secret(), session.no_backslash_escapes),
            if retain {
                " RETAIN CURRENT PASSWORD"
            } else {
                ""
            }
        ),
        (false, Plugin::Native, Actor::Master) => format!(
            "ALTER USER {acct} IDENTIFIED WITH mysql_native_password AS '{}' ACCOUNT UNLOCK",
            native_password_hash(password)
        ),
        (false, Plugin::Sha2(_), Actor::Master) => format!(
            "ALTER USER {acct} IDENTIFIED BY {} ACCOUNT UNLOCK",
            quote_string(password.expose_secret(), session.no_backslash_escapes)
        ),
    };
    Ok(sql)
}

/// Rewrites one `SHOW GRANTS FOR from` row as the same grant to `to`.
/// The grantee is the last occurrence of `from`'s account; whatever follows
/// it (MariaDB's `IDENTIFIED BY PASSWORD '*..'`, resource limits) is dropped
/// except `WITH GRANT OPTION` / `WITH ADMIN OPTION`. `None` for a row that
/// does not name the grantee as expected.
pub fn rewrite_grant(row: &str, from_user: &str, to_user: &str, host: &str) -> Option<String> {
    let from_bt = account(from_user, host);
    let from_sq = format!(
        "'{}'@'{}'",
        from_user.replace('\'', "\\'"),
        host.replace('\'', "\\'")
    );
    let to = account(to_user, host);
    for from in [from_bt, from_sq] {
        for (lead, keep_lead) in [(" TO ", " TO "), (" FOR ", " FOR ")] {
            let needle = format!("{lead}{from}");
            if let Some(i) = row.rfind(&needle) {
                let head = &row[..i];
                if !(row.starts_with("GRANT ") || row.starts_with("SET DEFAULT ROLE ")) {
                    return None;
                }
                let tail = &row[i + needle.len()..];
                let mut out = format!("{head}{keep_lead}{to}");
                if tail.contains("WITH GRANT OPTION") {
                    out.push_str(" WITH GRANT OPTION");
                }
                if tail.contains("WITH ADMIN OPTION") {
                    out.push_str(" WITH ADMIN OPTION");
                }
                return Some(out);
            }
        }
    }
    None
}

/// `CREATE USER ... ACCOUNT LOCK`: no login until the password is set.
pub(crate) fn create_locked_sql(user: &str, host: &str) -> String {
    format!(
        "CREATE USER IF NOT EXISTS {}@{} ACCOUNT LOCK",
        quote_ident(user),
        quote_ident(host)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(mariadb: bool) -> Session {
        Session {
            mariadb,
            version: if mariadb { (10, 11, 0) } else { (8, 0, 36) },
            user: "u".into(),
            host: "%".into(),
            no_backslash_escapes: false,
        }
    }

    #[test]
    fn plugins() {
        assert_eq!(
            parse_plugin(
                "CREATE USER `a b`@`%` IDENTIFIED BY PASSWORD '*AB'",
                "a b",
                "%"
            ),
            Plugin::Native
        );
        assert_eq!(
            parse_plugin(
                "CREATE USER `u`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x' REQUIRE NONE",
                "u",
                "%"
            ),
            Plugin::Sha2("caching_sha2_password".into())
        );
        assert_eq!(
            parse_plugin(
                "CREATE USER `u`@`%` IDENTIFIED VIA ed25519 USING 'x'",
                "u",
                "%"
            ),
            Plugin::Other("ed25519".into())
        );
        assert_eq!(
            parse_plugin("CREATE USER `u`@`%`", "u", "%"),
            Plugin::Other("none".into())
        );
    }

    #[test]
    fn password_statements_carry_no_plaintext_where_possible() {
        let t = Target {
            host: "h".into(),
            port: 3306,
            username: "u".into(),
            dbname: None,
            ssl: None,
            masterarn: None,
        };
        let pw = SecretString::from("CANARY-pw'\\");
        let own = Actor::Own { retain: false };
        let m = password_sql(&session(true), &Plugin::Native, "u", "%", &pw, own, &t).unwrap();
        assert!(
            m.starts_with("SET PASSWORD = '*") && !m.contains("CANARY"),
            "{m}"
        );
        let m = password_sql(
            &session(true),
            &Plugin::Native,
            "u",
            "%",
            &pw,
            Actor::Master,
            &t,
        )
        .unwrap();
        assert!(m.starts_with("ALTER USER `u`@`%` IDENTIFIED BY PASSWORD '*"));
        assert!(m.ends_with(" ACCOUNT UNLOCK") && !m.contains("CANARY"));
        let my = password_sql(
            &session(false),
            &Plugin::Native,
            "u",
            "%",
            &pw,
            Actor::Master,
            &t,
        )
        .unwrap();
        assert!(
            my.contains("IDENTIFIED WITH mysql_native_password AS '*"),
            "{my}"
        );
        assert!(!my.contains("CANARY"));
        let sha = Plugin::Sha2("caching_sha2_password".into());
        let retain = Actor::Own { retain: true };
        let s = password_sql(&session(false), &sha, "u", "%", &pw, retain, &t).unwrap();
        assert_eq!(
            s,
            r"ALTER USER USER() IDENTIFIED BY 'CANARY-pw''\\' RETAIN CURRENT PASSWORD"
        );
        let err = password_sql(
            &session(true),
            &Plugin::Other("ed25519".into()),
            "u",
            "%",
            &pw,
            own,
            &t,
        )
        .unwrap_err();
        assert!(err.to_string().contains("ed25519"));
    }

    #[test]
    fn grants_are_rewritten_for_the_clone() {
        let r = rewrite_grant(
            "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABCDEF'",
            "app",
            "app_clone",
            "%",
        )
        .unwrap();
        assert_eq!(r, "GRANT USAGE ON *.* TO `app_clone`@`%`");
        let r = rewrite_grant(
            "GRANT SELECT ON `db`.`t` TO `app`@`%` WITH GRANT OPTION",
            "app",
            "app_clone",
            "%",
        )
        .unwrap();
        assert_eq!(
            r,
            "GRANT SELECT ON `db`.`t` TO `app_clone`@`%` WITH GRANT OPTION"
        );
        let r = rewrite_grant(
            "SET DEFAULT ROLE `r` FOR `app`@`%`",
            "app",
            "app_clone",
            "%",
        )
        .unwrap();
        assert_eq!(r, "SET DEFAULT ROLE `r` FOR `app_clone`@`%`");
        assert!(rewrite_grant("REVOKE ALL TO `app`@`%`", "app", "x", "%").is_none());
        assert!(rewrite_grant("GRANT ALL ON *.* TO `other`@`%`", "app", "x", "%").is_none());
    }
}
