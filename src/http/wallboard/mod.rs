//! The supervisors' wallboard (`/wallboard`: page, login, live updates over SSE) and the
//! public wait counter (`/api/v1/public/wait`). The page and its script are embedded in the
//! binary; snapshots are built in [`board`], pushed by [`hub`], and access is decided in
//! [`access`]. Prometheus families for the same board are in [`metrics`].

pub mod access;
pub mod board;
pub mod hub;
pub mod metrics;
pub mod opcamps;
mod public;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::HttpState;
use crate::config::Config;
use crate::service::acd::Acd;
use crate::store::redis::LiveState;
use access::{choose_lang, Lang, COOKIE};

const PAGE: &str = include_str!("assets/board.html");
const LOGIN: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/board.js");
const STYLE: &str = include_str!("assets/board.css");
/// How often an open event stream looks whether contactd is stopping.
const DRAIN_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// The wallboard's state in `HttpState`.
pub struct Wallboard {
    pub hub: hub::Hub,
    limiter: Mutex<access::RateLimiter>,
    cache: public::Cache,
}

impl Wallboard {
    pub fn start(
        acd: Acd,
        config: Arc<Config>,
        pool: deadpool_postgres::Pool,
        live: LiveState,
        opcamp: Option<Arc<crate::service::opcamp::OpRunner>>,
    ) -> Self {
        let w = &config.wallboard;
        Self {
            limiter: Mutex::new(access::RateLimiter::new(
                w.public_burst,
                w.public_per_minute,
            )),
            cache: public::Cache::default(),
            hub: hub::Hub::start(acd, config.clone(), pool, live, opcamp),
        }
    }
}

/// Routes that take no bearer token: the board checks its own session cookie, the public
/// counter is open (rate-limited).
pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/wallboard", get(page))
        .route("/wallboard/login", post(login))
        .route("/wallboard/logout", post(logout))
        .route("/wallboard/events", get(events))
        .route("/wallboard/board.js", get(script))
        .route("/wallboard/board.css", get(style))
        .route("/api/v1/public/wait", get(public::wait))
}

#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    wall: Option<String>,
}

impl PageQuery {
    fn wall(&self) -> bool {
        self.wall.as_deref() == Some("1")
    }
}

fn lang_of(shared: &HttpState, q: Option<&str>, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    choose_lang(q, accept, &shared.config.wallboard.language)
}

fn now_s(shared: &HttpState) -> i64 {
    shared.acd.clock().now().timestamp()
}

/// Whether the request carries a live session opened by the API or supervisor token.
fn signed_in(shared: &HttpState, headers: &HeaderMap) -> bool {
    let http = &shared.config.http;
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|h| access::cookie(h, COOKIE))
        .any(|v| {
            access::session_valid(
                v,
                &[http.token.expose(), http.supervisor_token.expose()],
                now_s(shared),
            )
        })
}

/// Not cached anywhere; the pages run only their own embedded script and style, and are
/// never framed.
fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    r
}

/// The login form, in `lang`; `refused`: the last token was not one that opens the board.
fn login_page(lang: Lang, wall: bool, refused: bool) -> Response {
    let t = |ru: &'static str, en: &'static str| if lang == Lang::Ru { ru } else { en };
    let html = LOGIN
        .replace("{{lang}}", lang.code())
        .replace("{{wall}}", if wall { "1" } else { "" })
        .replace(
            "{{title}}",
            t("Табло контакт-центра", "Contact center wallboard"),
        )
        .replace(
            "{{label}}",
            t("Токен API или супервизора", "API or supervisor token"),
        )
        .replace("{{button}}", t("Войти", "Sign in"))
        .replace(
            "{{error}}",
            if refused {
                t(
                    "Этот токен не открывает табло.",
                    "This token does not open the wallboard.",
                )
            } else {
                ""
            },
        );
    let code = if refused {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    no_store((code, Html(html)).into_response())
}

async fn page(
    State(shared): State<Arc<HttpState>>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&shared, q.lang.as_deref(), &headers);
    if !signed_in(&shared, &headers) {
        return login_page(lang, q.wall(), false);
    }
    let html = PAGE
        .replace("{{lang}}", lang.code())
        .replace("{{mode}}", if q.wall() { "wall" } else { "desk" });
    no_store(Html(html).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    wall: String,
}

/// The token travels once, in a POST body (never a URL that lands in logs); the browser
/// keeps only the derived session value, in a cookie scripts cannot read.
async fn login(State(shared): State<Arc<HttpState>>, Form(f): Form<LoginForm>) -> Response {
    let http = &shared.config.http;
    let (api, sup) = (http.token.expose(), http.supervisor_token.expose());
    let lang = choose_lang(Some(&f.lang), None, &shared.config.wallboard.language);
    let wall = f.wall == "1";
    if !access::opens_board(&f.token, api, sup) {
        tracing::info!("wallboard: login refused");
        return login_page(lang, wall, true);
    }
    let key = if access::same(f.token.as_bytes(), api.as_bytes()) {
        api
    } else {
        sup
    };
    let hours = shared.config.wallboard.session_hours;
    let expires = now_s(&shared) + (hours * 3600) as i64;
    let cookie = format!(
        "{COOKIE}={}; Path=/wallboard; HttpOnly; SameSite=Strict; Max-Age={}",
        access::session_value(key, expires),
        hours * 3600
    );
    let to = format!(
        "/wallboard?lang={}{}",
        lang.code(),
        if wall { "&wall=1" } else { "" }
    );
    no_store(
        (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, cookie), (header::LOCATION, to)],
        )
            .into_response(),
    )
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; Path=/wallboard; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/wallboard".to_string()),
        ],
    )
        .into_response()
}

/// The live feed: `event: live` and `event: stats`, each the whole snapshot as JSON, the
/// current ones first and then every change.
async fn events(State(shared): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if !signed_in(&shared, &headers) {
        return (StatusCode::UNAUTHORIZED, "sign in at /wallboard").into_response();
    }
    let (mut live, mut stats) = shared.wallboard.hub.subscribe();
    live.mark_changed();
    stats.mark_changed();
    let draining = shared.draining.clone();
    let stream = futures_util::stream::unfold(
        (live, stats, draining),
        |(mut live, mut stats, draining)| async move {
            loop {
                let (name, frame) = tokio::select! {
                    biased;
                    r = live.changed() => {
                        r.ok()?;
                        ("live", live.borrow_and_update().clone())
                    }
                    r = stats.changed() => {
                        r.ok()?;
                        ("stats", stats.borrow_and_update().clone())
                    }
                    // An open stream would hold the server's graceful stop forever: it
                    // ends once contactd drains (the page reconnects to another instance).
                    _ = tokio::time::sleep(DRAIN_CHECK) => {
                        if draining.load(std::sync::atomic::Ordering::Relaxed) {
                            return None;
                        }
                        continue;
                    }
                };
                if !frame.is_empty() {
                    let ev = Event::default().event(name).data(&*frame);
                    return Some((Ok::<_, Infallible>(ev), (live, stats, draining)));
                }
            }
        },
    );
    no_store(
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response(),
    )
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
