//! Route handlers. Order of checks: token (401), name (400), deployment
//! allow-list and scope (403), then Secrets Manager.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::audit::AuditSlot;
use super::backend::{Payload, SecretMetadata, SecretValue, Which};
use super::error::ApiError;
use super::names::parse_name;
use super::scope::{Action, Principal};
use super::AppState;
use crate::store::{StoreError, AWSCURRENT};

/// The authenticated caller.
pub(super) struct Caller(Arc<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = state.0.auth.authenticate(&parts.headers).await?;
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.principal(&p.sub);
        }
        Ok(Self(p))
    }
}

type Slot = Extension<AuditSlot>;

fn rest<'a>(uri: &'a Uri, prefix: &str) -> &'a str {
    uri.path().strip_prefix(prefix).unwrap_or_default()
}

/// Deployment allow-list, then the caller's scope.
fn authorize(
    state: &AppState,
    who: &Principal,
    action: Action,
    name: &str,
) -> Result<(), ApiError> {
    if !state.serves(name) {
        return Err(ApiError::NotServed(format!(
            "this deployment does not serve secret {name}"
        )));
    }
    if !who.may(action, name) {
        let (verb, scope) = match action {
            Action::Read => ("read", format!("secrets:read:{name}")),
            Action::Rotate => ("rotate", format!("secrets:rotate:{name}")),
        };
        return Err(ApiError::InsufficientScope {
            message: format!("the token does not grant {verb} access to {name}"),
            scope,
        });
    }
    Ok(())
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("bad query string: {}", e.body_text()),
        )
    })
}

pub(super) async fn healthz(Extension(slot): Slot) -> Json<Value> {
    slot.action("health", None);
    Json(json!({"status": "ok"}))
}

pub(super) async fn openapi(Extension(slot): Slot) -> Response {
    slot.action("openapi", None);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi::document(),
    )
        .into_response()
}

pub(super) async fn no_route(Extension(slot): Slot, method: Method, uri: Uri) -> ApiError {
    slot.action("none", None);
    ApiError::RouteNotFound(format!("{method} {}", uri.path()))
}

pub(super) async fn wrong_method(Extension(slot): Slot, method: Method, uri: Uri) -> ApiError {
    slot.action("none", None);
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReadQuery {
    version_stage: Option<String>,
    version_id: Option<String>,
}

fn check_param(name: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.is_empty()
        || v.len() > max
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} must be 1-{max} characters of letters, digits and -_."),
        ));
    }
    Ok(())
}

/// `GET /secrets/{name}` and `GET /secrets/{name}/rotation`.
pub(super) async fn secrets_get(
    State(state): State<AppState>,
    Extension(slot): Slot,
    uri: Uri,
    q: Result<Query<ReadQuery>, QueryRejection>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    let raw = rest(&uri, "/secrets/");
    if let Some(raw) = raw.strip_suffix("/rotation") {
        slot.action("rotation_status", None);
        let Caller(who) = caller?;
        let name = parse_name(raw)?;
        slot.secret(&name);
        if authorize(&state, &who, Action::Read, &name).is_err() {
            authorize(&state, &who, Action::Rotate, &name)?;
        }
        let meta = state.0.backend.describe(&name).await?;
        return Ok(Json(rotation_view(&meta)).into_response());
    }
    slot.action("read", None);
    let Caller(who) = caller?;
    let name = parse_name(raw)?;
    slot.secret(&name);
    authorize(&state, &who, Action::Read, &name)?;
    let q = query(q)?;
    if let Some(s) = &q.version_stage {
        check_param("versionStage", s, 256)?;
    }
    if let Some(v) = &q.version_id {
        check_param("versionId", v, 64)?;
    }
    let which = Which {
        stage: match (&q.version_stage, &q.version_id) {
            (None, None) => Some(AWSCURRENT.to_owned()),
            (s, _) => s.clone(),
        },
        version_id: q.version_id,
    };
    let (value, stages) = read(&state, &name, which).await?;
    let (secret, secret_binary) = match &value.payload {
        Payload::String(s) => (Some(s.expose_secret()), None),
        Payload::Binary(b) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(b.expose_secret())),
        ),
    };
    // Serialised straight from borrowed fields: no intermediate JSON tree
    // and no copy of the value on the hot path.
    Ok(Json(ReadBody {
        name: &value.name,
        arn: &value.arn,
        version_id: &value.version_id,
        version_stages: &stages,
        secret,
        secret_binary,
    })
    .into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadBody<'a> {
    name: &'a str,
    arn: &'a str,
    version_id: &'a str,
    version_stages: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
}

/// `GET /get-secret/{name}`: the original service's contract.
pub(super) async fn get_secret(
    State(state): State<AppState>,
    Extension(slot): Slot,
    uri: Uri,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    slot.action("get_secret", None);
    let Caller(who) = caller?;
    let name = parse_name(rest(&uri, "/get-secret/"))?;
    slot.secret(&name);
    authorize(&state, &who, Action::Read, &name)?;
    let (value, _) = read(&state, &name, Which::current()).await?;
    Ok(Json(json!({"secret": payload_text(&value)})).into_response())
}

fn payload_text(v: &SecretValue) -> String {
    match &v.payload {
        Payload::String(s) => s.expose_secret().to_owned(),
        Payload::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b.expose_secret()),
    }
}

/// A value through the cache. An expired entry whose version DescribeSecret
/// still shows is renewed without a GetSecretValue.
async fn read(
    state: &AppState,
    name: &str,
    mut which: Which,
) -> Result<(Arc<SecretValue>, Arc<Vec<String>>), ApiError> {
    let cache = &state.0.cache;
    let backend = &state.0.backend;
    let mut meta: Option<SecretMetadata> = None;
    if let Some(hit) = cache.get(name, &which) {
        if hit.fresh {
            return Ok((hit.value, hit.stages));
        }
        let m = backend.describe(name).await?;
        let vid = &hit.value.version_id;
        let still = match (&which.version_id, &which.stage) {
            (None, Some(stage)) => m.version_with(stage) == Some(vid.as_str()),
            (Some(v), stage) => {
                v == vid
                    && m.versions
                        .get(v)
                        .is_some_and(|s| stage.as_ref().is_none_or(|st| s.iter().any(|x| x == st)))
            }
            (None, None) => false,
        };
        if still {
            let stages = m.versions.get(vid).cloned().unwrap_or_default();
            cache.renew(name, &which, stages.clone());
            return Ok((hit.value, Arc::new(stages)));
        }
        meta = Some(m);
    }
    let key = which.clone();
    if let (Some(v), None) = (&which.version_id, &which.stage) {
        // Always name a stage when the version has one (the emulator can
        // answer a bare VersionId with another version).
        let m = match meta {
            Some(m) => m,
            None => backend.describe(name).await?,
        };
        let stages = m
            .versions
            .get(v)
            .ok_or_else(|| ApiError::NotFound(format!("version {v} of {name} not found")))?;
        which.stage = stages.first().cloned();
    }
    let value = Arc::new(backend.get(name, &which).await?);
    if let Some(v) = &which.version_id {
        if &value.version_id != v {
            return Err(ApiError::NotFound(format!(
                "version {v} of {name} not found"
            )));
        }
    }
    let stages = Arc::new(value.version_stages.clone());
    cache.insert(name, &key, value.clone());
    Ok((value, stages))
}

fn rotation_view(m: &SecretMetadata) -> Value {
    let pending = m.pending_elsewhere();
    json!({
        "name": m.name,
        "arn": m.arn,
        "rotationEnabled": m.rotation_enabled,
        "rotationLambdaArn": m.rotation_lambda_arn,
        "rotationRules": {
            "automaticallyAfterDays": m.automatically_after_days,
            "scheduleExpression": m.schedule_expression,
            "duration": m.duration,
        },
        "lastRotatedDate": m.last_rotated_date,
        "nextRotationDate": m.next_rotation_date,
        "inProgress": pending.is_some(),
        "pendingVersionId": pending,
        "currentVersionId": m.version_with(AWSCURRENT),
    })
}

fn in_progress_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("in progress") || m.contains("previous rotation") || m.contains("isn't complete")
}

/// Checks, RotateSecret, and the cache invalidation. Returns the version.
async fn start_rotation(state: &AppState, name: &str) -> Result<String, ApiError> {
    let backend = &state.0.backend;
    let meta = backend.describe(name).await?;
    if !meta.rotation_enabled {
        return Err(ApiError::bad_request(
            "rotation_not_configured",
            format!(
                "rotation is not configured for secret {name}: configure a rotation function first"
            ),
        ));
    }
    if let Some(p) = meta.pending_elsewhere() {
        return Err(ApiError::RotationInProgress(format!(
            "a rotation of {name} is in progress (AWSPENDING on version {p})"
        )));
    }
    let token = uuid_v4();
    let version = backend.rotate(name, &token).await.map_err(|e| match e {
        StoreError::InvalidRequest { message, .. } if in_progress_message(&message) => {
            ApiError::RotationInProgress(format!("a rotation of {name} is already in progress"))
        }
        other => ApiError::from(other),
    })?;
    state.0.cache.invalidate(name);
    tracing::info!(event = "rotation_started", secret = %name, version = %version, "rotation started");
    Ok(version)
}

/// `POST /secrets/{name}/rotate`; any other POST under `/secrets/` is 405.
pub(super) async fn secrets_post(
    State(state): State<AppState>,
    Extension(slot): Slot,
    uri: Uri,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    let who = caller;
    let Some(raw) = rest(&uri, "/secrets/").strip_suffix("/rotate") else {
        slot.action("none", None);
        drop(who);
        return Err(ApiError::MethodNotAllowed {
            method: "POST".into(),
            path: uri.path().to_owned(),
        });
    };
    slot.action("rotate", None);
    let Caller(who) = who?;
    let name = parse_name(raw)?;
    slot.secret(&name);
    authorize(&state, &who, Action::Rotate, &name)?;
    let version = start_rotation(&state, &name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"name": name, "versionId": version, "status": "rotating"})),
    )
        .into_response())
}

/// `POST /rotate-secret/{name}`: rotate, then wait for AWSCURRENT to move.
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    Extension(slot): Slot,
    uri: Uri,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    slot.action("rotate_and_wait", None);
    let Caller(who) = caller?;
    let name = parse_name(rest(&uri, "/rotate-secret/"))?;
    slot.secret(&name);
    authorize(&state, &who, Action::Rotate, &name)?;
    let version = start_rotation(&state, &name).await?;
    let deadline = Instant::now() + state.0.rotate_wait;
    loop {
        let meta = state.0.backend.describe(&name).await?;
        if meta.version_with(AWSCURRENT) == Some(version.as_str()) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({"status": "rotating", "versionId": version})),
            )
                .into_response());
        }
        tokio::time::sleep(left.min(Duration::from_millis(250))).await;
    }
    state.0.cache.invalidate(&name);
    let mut body = json!({"status": "rotated", "versionId": version});
    if authorize(&state, &who, Action::Read, &name).is_ok() {
        let which = Which {
            stage: Some(AWSCURRENT.to_owned()),
            version_id: Some(version.clone()),
        };
        let value = state.0.backend.get(&name, &which).await?;
        body["new_secret"] = json!(payload_text(&value));
    }
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    prefix: Option<String>,
    next_token: Option<String>,
}

/// `GET /secrets`: names and metadata of what the caller may read.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(slot): Slot,
    q: Result<Query<ListQuery>, QueryRejection>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    slot.action("list", None);
    let Caller(who) = caller?;
    if !who.may_list() {
        return Err(ApiError::InsufficientScope {
            message: "the token does not grant listing".into(),
            scope: "secrets:list".into(),
        });
    }
    let q = query(q)?;
    if let Some(p) = &q.prefix {
        if p.len() > 512 || p.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "prefix must be at most 512 characters without control characters",
            ));
        }
    }
    if q.next_token.as_ref().is_some_and(|t| t.len() > 4096) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "nextToken is too long",
        ));
    }
    let page = state
        .0
        .backend
        .list(q.prefix.as_deref(), q.next_token.as_deref())
        .await?;
    let secrets: Vec<Value> = page
        .secrets
        .iter()
        .filter(|m| state.serves(&m.name) && who.may(Action::Read, &m.name))
        .map(|m| {
            json!({
                "name": m.name,
                "arn": m.arn,
                "description": m.description,
                "rotationEnabled": m.rotation_enabled,
                "lastRotatedDate": m.last_rotated_date,
                "nextRotationDate": m.next_rotation_date,
                "lastChangedDate": m.last_changed_date,
                "createdDate": m.created_date,
            })
        })
        .collect();
    Ok(Json(json!({"secrets": secrets, "nextToken": page.next_token})).into_response())
}

/// A ClientRequestToken in UUID v4 form.
fn uuid_v4() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
