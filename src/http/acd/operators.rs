//! The operators' routes: list and create operators and groups, skills, state changes, an
//! operator's day, and their screen-pop stream.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::super::api_error::{body, ApiError, ApiResult};
use super::super::HttpState;
use super::{login_of, KEEP_ALIVE};
use crate::core::acd::names::{check_group, check_name, check_new_operator};
use crate::service::acd::types::OperatorCommand;
use crate::store::operators::{Operator, Operators};
use crate::store::StoreError;

async fn operator(shared: &HttpState, login: &str) -> ApiResult<Operator> {
    Operators::new(shared.pool.clone())
        .get(login)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("operator {login}")))
}

pub(super) async fn list_operators(State(shared): State<Arc<HttpState>>) -> ApiResult {
    Ok(Json(shared.acd.operators().await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewOperator {
    login: String,
    name: String,
    endpoint: String,
}

pub(super) async fn create_operator(
    State(shared): State<Arc<HttpState>>,
    bytes: Bytes,
) -> ApiResult {
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
pub(super) struct NewGroup {
    name: String,
}

pub(super) async fn list_groups(State(shared): State<Arc<HttpState>>) -> ApiResult {
    let groups: Vec<_> = Operators::new(shared.pool.clone())
        .groups()
        .await?
        .into_iter()
        .map(|(name, operators)| json!({"name": name, "operators": operators}))
        .collect();
    Ok(Json(groups).into_response())
}

/// A new routing group; a queue (`[acd.queue.NAME] group = ...`) routes to it.
pub(super) async fn create_group(State(shared): State<Arc<HttpState>>, bytes: Bytes) -> ApiResult {
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
pub(super) async fn set_skills(
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
pub(super) struct StateChange {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) async fn change_state(
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
pub(super) struct DayQuery {
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
pub(super) async fn day(
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
pub(super) async fn events(
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
}
