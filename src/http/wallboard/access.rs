//! Who may see the board and who may ask the public counter, without I/O: the login
//! session (an HMAC the browser keeps in an HttpOnly cookie, since `EventSource` sends no
//! header), the page's language, and the per-address token bucket of the public counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use tokio::time::Instant;

/// The session cookie's name; scoped to `/wallboard`, HttpOnly, SameSite=Strict.
pub const COOKIE: &str = "contactd_wallboard";

/// Compares without an early exit (as `http::auth` does for bearer tokens).
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether `given` is one of the tokens that open the board: the API token or the
/// supervisor token (an empty one opens nothing). An operator's own token is neither.
pub fn opens_board(given: &str, api: &str, supervisor: &str) -> bool {
    let api_ok = !api.is_empty() & same(given.as_bytes(), api.as_bytes());
    let sup_ok = !supervisor.is_empty() & same(given.as_bytes(), supervisor.as_bytes());
    api_ok | sup_ok
}

fn mac_hex(key: &str, expires_s: i64) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key size");
    mac.update(b"contactd-wallboard:");
    mac.update(expires_s.to_string().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cookie's value for a login made with `token`, valid until `expires_s` (Unix
/// seconds): `<expires>.<HMAC-SHA256(token, expires)>`. Nothing is stored; changing either
/// token ends the sessions it opened.
pub fn session_value(token: &str, expires_s: i64) -> String {
    format!("{expires_s}.{}", mac_hex(token, expires_s))
}

/// Whether a cookie value is a session opened by one of `tokens` and not expired at `now_s`.
pub fn session_valid(value: &str, tokens: &[&str], now_s: i64) -> bool {
    let Some((exp, mac)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires_s) = exp.parse::<i64>() else {
        return false;
    };
    if expires_s <= now_s {
        return false;
    }
    tokens
        .iter()
        .filter(|t| !t.is_empty())
        .fold(false, |ok, t| {
            ok | same(mac.as_bytes(), mac_hex(t, expires_s).as_bytes())
        })
}

/// The value of cookie `name` in a `Cookie:` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The board's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code.get(..2)?.to_ascii_lowercase().as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// `?lang=` first, then the browser's first known language in `Accept-Language` (by its
/// q-weight), then the configured default.
pub fn choose_lang(query: Option<&str>, accept: Option<&str>, default: &str) -> Lang {
    if let Some(l) = query.and_then(Lang::from_code) {
        return l;
    }
    let mut best: Option<(f32, Lang)> = None;
    for part in accept.unwrap_or_default().split(',') {
        let mut it = part.trim().split(';');
        let Some(lang) = it.next().and_then(|c| Lang::from_code(c.trim())) else {
            continue;
        };
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
        .or_else(|| Lang::from_code(default))
        .unwrap_or(Lang::En)
}

/// A token bucket per client address: `burst` requests at once, refilled at `per_minute`.
/// Time comes in as an argument, so tests drive it without waiting.
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: HashMap::new(),
        }
    }

    /// Takes one request for `ip` at `now`: Ok, or how long until the next is allowed.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() > 10_000 {
            // Forget the full buckets (idle clients) so a scan of many addresses cannot
            // grow the map without bound.
            let (burst, rate) = (self.burst, self.per_second);
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((self.burst, now));
        let refilled = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refilled).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_api_and_supervisor_tokens_open_the_board() {
        let (api, sup) = ("api-token-0123456789", "supervisor-0123456789");
        assert!(opens_board(api, api, sup));
        assert!(opens_board(sup, api, sup));
        let operator = crate::http::auth::operator_token(api, "op1");
        assert!(!opens_board(&operator, api, sup));
        assert!(!opens_board("", api, ""));
        assert!(!opens_board("api-token-012345678", api, sup));
    }

    #[test]
    fn sessions_expire_and_end_with_their_token() {
        let v = session_value("api-token-0123456789", 1_000);
        assert!(session_valid(&v, &["x", "api-token-0123456789"], 999));
        assert!(!session_valid(&v, &["api-token-0123456789"], 1_000));
        assert!(!session_valid(&v, &["new-token-0123456789"], 999));
        assert!(!session_valid(&v, &[""], 999));
        // Moving the expiry forward breaks the MAC.
        let forged = v.replacen("1000", "9000", 1);
        assert!(!session_valid(&forged, &["api-token-0123456789"], 999));
        assert!(!session_valid("garbage", &["api-token-0123456789"], 0));
        assert_eq!(
            cookie("a=1; contactd_wallboard=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("a=1", COOKIE), None);
    }

    #[test]
    fn language_by_query_then_browser_then_default() {
        assert_eq!(choose_lang(Some("en"), Some("ru"), "ru"), Lang::En);
        assert_eq!(
            choose_lang(Some("xx"), Some("ru-RU,ru;q=0.9"), "en"),
            Lang::Ru
        );
        assert_eq!(
            choose_lang(None, Some("de-DE,en;q=0.5,ru;q=0.8"), "en"),
            Lang::Ru
        );
        assert_eq!(choose_lang(None, Some("de"), "ru"), Lang::Ru);
        assert_eq!(choose_lang(None, None, "en"), Lang::En);
    }

    #[test]
    fn the_bucket_allows_a_burst_then_refills_at_its_rate() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(3, 60);
        for _ in 0..3 {
            assert_eq!(rl.check(ip, t0), Ok(()));
        }
        let wait = rl.check(ip, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert_eq!(rl.check(other, t0), Ok(()), "each address its own bucket");
        assert!(rl.check(ip, t0 + Duration::from_millis(500)).is_err());
        assert_eq!(rl.check(ip, t0 + Duration::from_millis(1_001)), Ok(()));
        // Idle for long: back to the burst, not beyond.
        let later = t0 + Duration::from_secs(3_600);
        for _ in 0..3 {
            assert_eq!(rl.check(ip, later), Ok(()));
        }
        assert!(rl.check(ip, later).is_err());
    }
}
