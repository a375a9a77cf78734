//! `/api/v1/operators/*` and `/api/v1/acd/*`: operators, their skills and states, their
//! screen pops as Server-Sent Events, the queues, ACD call records, transfers and callbacks.
//! Behind the API's bearer token (checked by its middleware, 401). Inputs are checked by the
//! same functions as `contactd operators` ([`crate::core::acd::names::check_new_operator`],
//! [`crate::core::acd::names::check_name`]); the decisions are the ACD's ([`crate::service::acd::Acd`]).
//!
//! Errors are `{"error": "..."}` naming what was wrong: 400 invalid, 404 not found,
//! 409 conflict, 502 the switch refused, 503 storage unavailable (details only in the log).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::HttpState;
use crate::core::acd::names::{check_group, check_name, check_new_operator};
use crate::core::acd::outcome::CallbackState;
use crate::service::acd::types::{AcdError, OperatorCommand, TransferMode};
use crate::store::operators::{Operator, Operators};
use crate::store::StoreError;

/// SSE comments this often keep proxies and browsers from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most callbacks one request lists.
const MAX_CALLBACKS: i64 = 1000;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route(
            "/api/v1/operators",
            get(list_operators).post(create_operator),
        )
        .route(
            "/api/v1/operator-groups",
            get(list_groups).post(create_group),
        )
        .route("/api/v1/operators/{login}/skills", put(set_skills))
        .route("/api/v1/operators/{login}/state", post(change_state))
        .route("/api/v1/operators/{login}/day", get(day))
        .route("/api/v1/acd/queues", get(queues))
        .route("/api/v1/acd/calls/{uuid}", get(call))
        .route("/api/v1/acd/calls/{uuid}/transfer", post(transfer))
        .route("/api/v1/acd/callbacks", get(callbacks))
}

/// The screen-pop stream, behind its own check (the API token or the operator's token).
pub fn operator_stream_routes() -> Router<Arc<HttpState>> {
    Router::new().route("/api/v1/operators/{login}/events", get(events))
}

/// An API error: the status and the message the client sees.
#[derive(Debug, PartialEq, Eq)]
struct ApiError(StatusCode, String);

type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    fn invalid(m: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, m.into())
    }

    fn not_found(what: impl std::fmt::Display) -> Self {
        Self(StatusCode::NOT_FOUND, format!("no such {what}"))
    }

    /// Storage trouble: logged with its detail, the client only learns it is unavailable.
    fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!("ACD API: {detail}");
        Self(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable".into(),
        )
    }

    fn context(self, prefix: &str) -> Self {
        Self(self.0, format!("{prefix}: {}", self.1))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<AcdError> for ApiError {
    fn from(e: AcdError) -> Self {
        match e {
            AcdError::Invalid(m) => Self(StatusCode::BAD_REQUEST, m),
            AcdError::NotFound(what) => Self::not_found(what),
            AcdError::Conflict(m) => Self(StatusCode::CONFLICT, m),
            AcdError::Store(detail) => Self::unavailable(detail),
            AcdError::Switch(m) => Self(StatusCode::BAD_GATEWAY, format!("switch: {m}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            other => Self::unavailable(other),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(e)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::unavailable(crate::store::postgres::pg_detail(&e))
    }
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

/// The `{login}` of a path, checked before it reaches a query.
fn login_of(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(login) = path.map_err(|e| ApiError::invalid(format!("path: {e}")))?;
    check_name("login", &login).map_err(ApiError::invalid)?;
    Ok(login)
}

/// The `{uuid}` of a path: a call's channel UUID, in the switch's lower-case form.
fn call_of(path: Result<Path<String>, PathRejection>) -> ApiResult<Uuid> {
    let Path(s) = path.map_err(|e| ApiError::invalid(format!("path: {e}")))?;
    Uuid::try_parse(&s).map_err(|_| ApiError::invalid(format!("call {s:?}: not a UUID")))
}

async fn operator(shared: &HttpState, login: &str) -> ApiResult<Operator> {
    Operators::new(shared.pool.clone())
        .get(login)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("operator {login}")))
}

async fn list_operators(State(shared): State<Arc<HttpState>>) -> ApiResult {
    Ok(Json(shared.acd.operators().await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOperator {
    login: String,
    name: String,
    endpoint: String,
}

async fn create_operator(State(shared): State<Arc<HttpState>>, bytes: Bytes) -> ApiResult {
    let new: NewOperator = body(&bytes)?;
    let name = new.name.trim();
    check_new_operator(&new.login, name, &new.endpoint).map_err(ApiError::invalid)?;
    let id = match Operators::new(shared.pool.clone())
        .create(&new.login, name, &new.endpoint)
        .await
    {
        Ok(id) => id,
        Err(StoreError::Postgres(e))
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
        {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("operator {} already exists", new.login),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    shared
        .acd
        .sync_operator(&new.login)
        .await
        .map_err(|e| ApiError::from(e).context("operator stored, but routing not updated"))?;
    let created = json!({"id": id, "login": new.login, "name": name, "endpoint": new.endpoint});
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
}

async fn list_groups(State(shared): State<Arc<HttpState>>) -> ApiResult {
    let groups: Vec<_> = Operators::new(shared.pool.clone())
        .groups()
        .await?
        .into_iter()
        .map(|(name, operators)| json!({"name": name, "operators": operators}))
        .collect();
    Ok(Json(groups).into_response())
}

/// A new routing group; a queue (`[acd.queue.NAME] group = ...`) routes to it.
async fn create_group(State(shared): State<Arc<HttpState>>, bytes: Bytes) -> ApiResult {
    let new: NewGroup = body(&bytes)?;
    check_group(&new.name).map_err(ApiError::invalid)?;
    let created = Operators::new(shared.pool.clone())
        .add_group(&new.name)
        .await?;
    if !created {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("group {} already exists", new.name),
        ));
    }
    Ok((StatusCode::CREATED, Json(json!({"name": new.name}))).into_response())
}

/// `{"general": 5, "meter": 3}` → (group, level) pairs, every name and level checked.
fn skill_levels(body: &BTreeMap<String, i64>) -> Result<Vec<(String, i16)>, String> {
    if body.is_empty() {
        return Err("no skills given: send {\"GROUP\": LEVEL, ...}".into());
    }
    body.iter()
        .map(|(group, level)| {
            check_name("group", group)?;
            match i16::try_from(*level) {
                Ok(l) if (1..=10).contains(&l) => Ok((group.clone(), l)),
                _ => Err(format!("group {group}: level {level} must be 1 to 10")),
            }
        })
        .collect()
}

/// Sets each named skill (others are left as they are), then updates routing.
async fn set_skills(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let login = login_of(path)?;
    let levels = skill_levels(&body(&bytes)?).map_err(ApiError::invalid)?;
    let op = operator(&shared, &login).await?;
    let store = Operators::new(shared.pool.clone());
    // Every group is checked before any skill changes, so a typo changes nothing.
    let groups = store.groups().await?;
    if let Some((g, _)) = levels
        .iter()
        .find(|(g, _)| !groups.iter().any(|(known, _)| known == g))
    {
        return Err(ApiError::not_found(format!("group {g}")));
    }
    for (group, level) in &levels {
        store.set_skill(op.id, group, *level).await?;
    }
    shared
        .acd
        .sync_operator(&login)
        .await
        .map_err(|e| ApiError::from(e).context("skills stored, but routing not updated"))?;
    let skills: BTreeMap<String, i16> = store.skills(op.id).await?.into_iter().collect();
    Ok(Json(json!({"login": login, "skills": skills})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateChange {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn change_state(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let login = login_of(path)?;
    let change: StateChange = body(&bytes)?;
    let cmd = OperatorCommand::parse(&change.state, change.reason.as_deref())?;
    let state = shared.acd.command(&login, cmd).await?;
    Ok(Json(json!({"login": login, "state": state.key()})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayQuery {
    #[serde(default)]
    date: Option<String>,
}

/// `YYYY-MM-DD`, or `today` (in the contact center's zone) when absent.
fn parse_day(date: Option<&str>, today: NaiveDate) -> ApiResult<NaiveDate> {
    match date {
        None => Ok(today),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid(format!("date {d:?}: use YYYY-MM-DD"))),
    }
}

/// Time per state during a local day, as `contactd operators day` prints it.
async fn day(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> ApiResult {
    let login = login_of(path)?;
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let today = crate::store::accounts::local_time(&shared.config, Utc::now()).date();
    let date = parse_day(q.date.as_deref(), today)?;
    let op = operator(&shared, &login).await?;
    let tz = &shared.config.dialing.default_time_zone;
    let rows = Operators::new(shared.pool.clone())
        .time_in_states(op.id, date, tz)
        .await?;
    let total: i64 = rows.iter().map(|(_, _, s)| s).sum();
    let states: Vec<_> = rows
        .into_iter()
        .map(|(state, reason, seconds)| json!({"state": state, "reason": reason, "seconds": seconds}))
        .collect();
    Ok(Json(json!({
        "login": login,
        "date": date.to_string(),
        "time_zone": tz,
        "states": states,
        "logged_in_s": total,
    }))
    .into_response())
}

/// The operator's screen pops, `event: offer` with the card as JSON data. A client too slow
/// to keep up gets `event: lagged` with `{"missed": N}` and the stream goes on.
async fn events(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let login = login_of(path)?;
    operator(&shared, &login).await?;
    let rx = shared.acd.subscribe(&login);
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            let event = match rx.recv().await {
                Ok(pop) => Event::default().event("offer").json_data(&*pop),
                Err(RecvError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .json_data(json!({"missed": n})),
                Err(RecvError::Closed) => return None,
            };
            match event {
                Ok(e) => return Some((Ok::<_, Infallible>(e), rx)),
                Err(e) => tracing::warn!("screen-pop event not sent: {e}"),
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

async fn queues(State(shared): State<Arc<HttpState>>) -> ApiResult {
    Ok(Json(shared.acd.queues().await?).into_response())
}

/// One `acd_calls` row, the operator by login.
#[derive(Debug, Serialize)]
struct AcdCallRecord {
    call: Uuid,
    node: String,
    queue: String,
    caller: Option<String>,
    account: Option<String>,
    entered_at: DateTime<Utc>,
    offers: i32,
    answered_at: Option<DateTime<Utc>>,
    operator: Option<String>,
    waited_s: Option<f64>,
    talk_s: Option<f64>,
    wrap_up_s: Option<f64>,
    abandoned_after_s: Option<f64>,
    transferred_to: Option<String>,
    recording: Option<String>,
    ended_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
}

async fn call(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let uuid = call_of(path)?;
    let row = shared
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT c.call_uuid, c.node, c.queue, c.caller, c.account, c.entered_at, c.offers,
                    c.answered_at, o.login, c.waited_s, c.talk_s, c.wrap_up_s,
                    c.abandoned_after_s, c.transferred_to, c.recording, c.ended_at, c.outcome
             FROM acd_calls c LEFT JOIN operators o ON o.id = c.operator
             WHERE c.call_uuid = $1",
            &[&uuid],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("call {uuid}")))?;
    Ok(Json(AcdCallRecord {
        call: row.get(0),
        node: row.get(1),
        queue: row.get(2),
        caller: row.get(3),
        account: row.get(4),
        entered_at: row.get(5),
        offers: row.get(6),
        answered_at: row.get(7),
        operator: row.get(8),
        waited_s: row.get(9),
        talk_s: row.get(10),
        wrap_up_s: row.get(11),
        abandoned_after_s: row.get(12),
        transferred_to: row.get(13),
        recording: row.get(14),
        ended_at: row.get(15),
        outcome: row.get(16),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferRequest {
    to: String,
    mode: String,
}

fn transfer_mode(s: &str) -> ApiResult<TransferMode> {
    match s {
        "blind" => Ok(TransferMode::Blind),
        "attended" => Ok(TransferMode::Attended),
        other => Err(ApiError::invalid(format!(
            "mode {other:?}: \"blind\" or \"attended\""
        ))),
    }
}

async fn transfer(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let uuid = call_of(path)?;
    let req: TransferRequest = body(&bytes)?;
    if !crate::config::is_queue_name(&req.to) {
        return Err(ApiError::invalid(format!(
            "to {:?}: a queue name, 1-32 of a-z 0-9 _",
            req.to
        )));
    }
    let mode = transfer_mode(&req.mode)?;
    let call = uuid.to_string();
    shared.acd.transfer(&call, &req.to, mode).await?;
    Ok(Json(json!({"call": call, "to": req.to, "mode": req.mode})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbacksQuery {
    #[serde(default)]
    state: Option<String>,
}

fn callback_state(s: Option<&str>) -> ApiResult<Option<&str>> {
    match s {
        None => Ok(None),
        Some(s) if CallbackState::parse(s).is_some() => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(format!(
            "state {other:?}: pending, dialing, done or failed"
        ))),
    }
}

#[derive(Debug, Serialize)]
struct CallbackRecord {
    id: i64,
    queue: String,
    number: String,
    call: Option<Uuid>,
    requested_at: DateTime<Utc>,
    state: String,
    attempts: i32,
    last_attempt: Option<DateTime<Utc>>,
    operator: Option<String>,
    result: Option<String>,
}

/// Callbacks, oldest request first (at most [`MAX_CALLBACKS`]), optionally of one state.
async fn callbacks(
    State(shared): State<Arc<HttpState>>,
    query: Result<Query<CallbacksQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let state = callback_state(q.state.as_deref())?;
    const COLUMNS: &str = "SELECT b.id, b.queue, b.number, b.call_uuid, b.requested_at, b.state,
            b.attempts, b.last_attempt, o.login, b.result
         FROM acd_callbacks b LEFT JOIN operators o ON o.id = b.operator";
    let db = shared.pool.get().await?;
    let rows = match state {
        Some(s) => {
            let sql =
                format!("{COLUMNS} WHERE b.state = $1 ORDER BY b.requested_at, b.id LIMIT $2");
            db.query(&sql, &[&s, &MAX_CALLBACKS]).await?
        }
        None => {
            let sql = format!("{COLUMNS} ORDER BY b.requested_at, b.id LIMIT $1");
            db.query(&sql, &[&MAX_CALLBACKS]).await?
        }
    };
    let list: Vec<CallbackRecord> = rows
        .iter()
        .map(|r| CallbackRecord {
            id: r.get(0),
            queue: r.get(1),
            number: r.get(2),
            call: r.get(3),
            requested_at: r.get(4),
            state: r.get(5),
            attempts: r.get(6),
            last_attempt: r.get(7),
            operator: r.get(8),
            result: r.get(9),
        })
        .collect();
    Ok(Json(list).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_levels_are_checked() {
        let ok: BTreeMap<String, i64> = [("general".into(), 5), ("meter".into(), 10)].into();
        assert_eq!(
            skill_levels(&ok),
            Ok(vec![("general".into(), 5), ("meter".into(), 10)])
        );
        assert!(skill_levels(&BTreeMap::new()).is_err());
        for (group, level, says) in [
            ("general", 0, "level 0"),
            ("general", 11, "level 11"),
            ("general", 70_000, "level 70000"),
            ("General", 5, "group \"General\""),
            ("gen eral", 5, "group \"gen eral\""),
        ] {
            let e = skill_levels(&[(group.to_string(), level)].into()).unwrap_err();
            assert!(e.contains(says), "{group} {level}: {e}");
        }
    }

    #[test]
    fn day_is_a_date_or_today() {
        let today = NaiveDate::from_ymd_opt(2025, 3, 30).unwrap();
        assert_eq!(parse_day(None, today), Ok(today));
        assert_eq!(
            parse_day(Some("2025-01-02"), today),
            Ok(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap())
        );
        for bad in ["2025-13-01", "02.01.2025", "", "2025-01-02; DROP"] {
            let e = parse_day(Some(bad), today).unwrap_err();
            assert_eq!(e.0, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.1.contains("YYYY-MM-DD"), "{bad}: {}", e.1);
        }
    }

    #[test]
    fn call_ids_are_uuids() {
        let p = |s: &str| call_of(Ok(Path(s.to_string())));
        let u = p("0B7E2F6C-5A43-4F0E-9A43-6B1F1D2C3E4F").unwrap();
        assert_eq!(u.to_string(), "0b7e2f6c-5a43-4f0e-9a43-6b1f1d2c3e4f");
        for bad in [
            "",
            "42",
            "0b7e2f6c-5a43-4f0e-9a43-6b1f1d2c3e4",
            "x' OR '1'='1",
        ] {
            assert_eq!(p(bad).unwrap_err().0, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn logins_in_paths_are_checked() {
        let p = |s: &str| login_of(Ok(Path(s.to_string())));
        assert_eq!(p("alice.s"), Ok("alice.s".to_string()));
        for bad in ["", "Alice", "al ice", "../etc", &"a".repeat(65)] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.0, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.1.starts_with("login"), "{}", e.1);
        }
    }

    #[test]
    fn transfer_modes_and_callback_states() {
        assert_eq!(transfer_mode("blind"), Ok(TransferMode::Blind));
        assert_eq!(transfer_mode("attended"), Ok(TransferMode::Attended));
        assert!(transfer_mode("Blind").is_err());
        assert!(transfer_mode("").is_err());
        assert_eq!(callback_state(None), Ok(None));
        for s in ["pending", "dialing", "done", "failed"] {
            assert_eq!(callback_state(Some(s)), Ok(Some(s)));
        }
        assert!(callback_state(Some("PENDING")).is_err());
    }

    #[test]
    fn acd_errors_map_to_statuses() {
        let st = |e: AcdError| ApiError::from(e).0;
        assert_eq!(st(AcdError::Invalid("x".into())), StatusCode::BAD_REQUEST);
        assert_eq!(
            st(AcdError::NotFound("operator x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(st(AcdError::Conflict("busy".into())), StatusCode::CONFLICT);
        assert_eq!(st(AcdError::Switch("down".into())), StatusCode::BAD_GATEWAY);
        let e = ApiError::from(AcdError::Store("password=hunter2 refused".into()));
        assert_eq!(e.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.1.contains("hunter2"), "{}", e.1);
        assert_eq!(
            ApiError::from(AcdError::NotFound("operator bob".into())).1,
            "no such operator bob"
        );
        let e = ApiError::from(StoreError::NotFound("group metre".into()));
        assert_eq!(
            (e.0, e.1.as_str()),
            (StatusCode::NOT_FOUND, "no such group metre")
        );
    }

    #[tokio::test]
    async fn errors_are_json_objects() {
        let r = ApiError::invalid("mode \"x\": \"blind\" or \"attended\"").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v, json!({"error": "mode \"x\": \"blind\" or \"attended\""}));
    }
}
