//! Login sessions: signed session tokens (users-core's [`TokenSigner`] with
//! [`TokenPurpose::Session`]) read from the `Authorization` header or a cookie, and the
//! revocation list that makes a logout final.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};
use serde::Serialize;
use users_diesel::{TokenPurpose, TokenSigner, Uuid};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::ToSchema;

use crate::BoxFuture;

/// The session a request was authenticated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    id: Uuid,
    expires_at: SystemTime,
}

impl Session {
    /// The session token's id, unique to each login.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// When the session token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

/// A session just started or renewed: what `POST /auth/login` and `POST /auth/refresh` answer
/// (see [`UsersState::start_session`](crate::UsersState::start_session)).
#[derive(Clone)]
pub struct NewSession {
    /// The access token: `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// How long the access token lasts.
    pub expires_in: Duration,
    /// The refresh token of a stored session, for `POST /auth/refresh`; `None` for a
    /// stateless one.
    pub refresh_token: Option<String>,
    /// What the session cookie holds, if cookies are on.
    pub(crate) cookie_token: String,
    pub(crate) cookie_lifetime: Duration,
}

/// A new session's tokens, with the OAuth 2.0 token response's names.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Session)]
pub(crate) struct SessionAnswer<'a> {
    access_token: &'a str,
    #[schema(schema_with = bearer)]
    token_type: &'static str,
    /// seconds
    #[schema(schema_with = seconds)]
    expires_in: u64,
    /// for `POST /auth/refresh`; works once (stored sessions only)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    refresh_token: Option<&'a str>,
}

/// `"bearer"`, the one value of `token_type`.
fn bearer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["bearer"]))
}

/// A number of seconds.
fn seconds() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some("seconds"))
}

impl NewSession {
    /// The JSON answer, with the OAuth 2.0 token response's names: `access_token`,
    /// `token_type` (`"bearer"`), `expires_in` (seconds) and, for a stored session,
    /// `refresh_token`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self.answer())
    }

    /// The typed answer of [`to_json`](Self::to_json).
    pub(crate) fn answer(&self) -> SessionAnswer<'_> {
        SessionAnswer {
            access_token: &self.access_token,
            token_type: "bearer",
            expires_in: self.expires_in.as_secs(),
            refresh_token: self.refresh_token.as_deref(),
        }
    }

    /// The `Set-Cookie` value that stores the session in the cookie `name`.
    pub(crate) fn cookie(&self, name: &str) -> HeaderValue {
        set_cookie(name, &self.cookie_token, self.cookie_lifetime.as_secs())
    }
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are secrets: never in logs.
        f.debug_struct("NewSession")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// Remembers logged-out stateless session tokens until they expire, so that a logout is final.
///
/// A session token is signed, not stored, so without this list a copy of a logged-out token
/// would work until it expires. `POST /auth/logout` adds its token's id here; every
/// authenticated request checks it. [`MemoryRevocations`] is the default; an application that
/// runs several processes, or wants logouts to survive a restart, implements this trait over a
/// shared store (a table, Redis) with the same two operations.
pub trait Revocations: Send + Sync + 'static {
    /// Remembers that the token `id` is revoked; it may be forgotten after `until`, when the
    /// token expires anyway.
    fn revoke(
        &self,
        id: Uuid,
        until: SystemTime,
    ) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>>;

    /// Whether the token `id` was revoked. An error refuses the request (500 `internal`).
    fn is_revoked(&self, id: Uuid) -> BoxFuture<'_, Result<bool, Box<dyn Error + Send + Sync>>>;
}

/// The revocation list of one process, in memory: logouts are final for that process until it
/// restarts. Expired entries are dropped as new ones arrive, so it holds at most the tokens
/// logged out within one session lifetime.
#[derive(Default)]
pub struct MemoryRevocations {
    revoked: Mutex<HashMap<Uuid, SystemTime>>,
}

impl MemoryRevocations {
    /// An empty list.
    pub fn new() -> Self {
        MemoryRevocations::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, SystemTime>> {
        self.revoked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("revoked", &self.lock().len())
            .finish()
    }
}

impl Revocations for MemoryRevocations {
    fn revoke(
        &self,
        id: Uuid,
        until: SystemTime,
    ) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>> {
        let now = SystemTime::now();
        let mut revoked = self.lock();
        revoked.retain(|_, expiry| *expiry > now);
        revoked.insert(id, until);
        Box::pin(async { Ok(()) })
    }

    fn is_revoked(&self, id: Uuid) -> BoxFuture<'_, Result<bool, Box<dyn Error + Send + Sync>>> {
        let revoked = self.lock().contains_key(&id);
        Box::pin(async move { Ok(revoked) })
    }
}

/// A session token that opened: signature, purpose and expiry are fine; whether it was
/// revoked and whether the user's password changed since is still to be checked.
pub(crate) struct OpenedSession {
    pub(crate) token: users_diesel::OpenedToken,
}

impl OpenedSession {
    pub(crate) fn session(&self) -> Session {
        Session {
            id: self.token.id(),
            expires_at: self.token.expires_at(),
        }
    }
}

/// Opens a session token.
pub(crate) fn open(signer: &TokenSigner, token: &str) -> Option<OpenedSession> {
    signer
        .open(token, TokenPurpose::Session, SystemTime::now())
        .ok()
        .map(|token| OpenedSession { token })
}

/// The session token of a request: the `Authorization: Bearer` header's, else the session
/// cookie's (if cookies are on). `None` if the request carries neither.
pub(crate) fn request_token<'a>(parts: &'a Parts, cookie: Option<&str>) -> Option<&'a str> {
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        // A malformed header is a token that does not open, not a missing one.
        let value = header.to_str().unwrap_or("");
        return Some(match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => value,
        });
    }
    cookie_value(parts, cookie?)
}

/// The value of the request's cookie `name`, if it sends one.
pub(crate) fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value that stores `token` for `max_age_secs`, or clears the cookie with an
/// empty token and a zero age. HttpOnly (scripts can't read it), Secure (HTTPS only; browsers
/// treat localhost as secure) and SameSite=Strict (other sites' requests don't carry it, which
/// is what keeps cross-site request forgery out).
pub(crate) fn set_cookie(name: &str, token: &str, max_age_secs: u64) -> HeaderValue {
    let cookie = format!(
        "{name}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict"
    );
    // Cookie names are checked when configured; tokens are base64url.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a state-changing request comes from an origin other than the application's own
/// (this request's `Host`) and `allowed` (lowercase `scheme://host[:port]`). An allowed
/// `Origin` is not; otherwise `Sec-Fetch-Site`, where sent, must say `same-origin` (or `none`, a
/// request the user made by hand) and `Origin`, which browsers send on every request but `GET`
/// and `HEAD`, must name this host. `same-site` is foreign: a page on another port or a sibling
/// subdomain is another origin. A request with neither header is not a browser's, so it is not
/// refused.
pub(crate) fn is_foreign_origin(headers: &HeaderMap, uri: &Uri, allowed: &[String]) -> bool {
    let origin = headers.get(ORIGIN).map(|origin| {
        let origin = origin.to_str().unwrap_or("null");
        origin.trim_end_matches('/').to_ascii_lowercase()
    });
    if origin
        .as_ref()
        .is_some_and(|origin| allowed.contains(origin))
    {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return true;
        }
    }
    if let Some(origin) = origin {
        let host = headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| uri.authority().map(|authority| authority.as_str()));
        // `null` (a sandboxed or privacy-sensitive context) has no "://" and is foreign.
        return match (origin.split_once("://"), host) {
            (Some((_, origin_host)), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
            _ => true,
        };
    }
    false
}

/// Whether `name` is a valid cookie name (an RFC 6265 token).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn reads_the_bearer_header_first_then_the_cookie() {
        let both = parts(&[("authorization", "Bearer abc"), ("cookie", "s=def")]);
        assert_eq!(request_token(&both, Some("s")), Some("abc"));
        let lower = parts(&[("authorization", "bearer abc")]);
        assert_eq!(request_token(&lower, None), Some("abc"));
        let cookie = parts(&[("cookie", "a=1; s=def; b=2")]);
        assert_eq!(request_token(&cookie, Some("s")), Some("def"));
        assert_eq!(request_token(&cookie, None), None);
        assert_eq!(request_token(&parts(&[]), Some("s")), None);
    }

    #[test]
    fn tells_foreign_origins_by_origin_then_fetch_metadata() {
        let uri: Uri = "/users/me".parse().unwrap();
        let allowed = ["https://admin.example".to_owned()];
        let foreign =
            |headers: &[(&str, &str)]| is_foreign_origin(&parts(headers).headers, &uri, &allowed);
        assert!(!foreign(&[]));
        assert!(!foreign(&[("sec-fetch-site", "same-origin")]));
        assert!(!foreign(&[("sec-fetch-site", "none")]));
        assert!(foreign(&[("sec-fetch-site", "same-site")]));
        assert!(foreign(&[("sec-fetch-site", "cross-site")]));
        let own = [("origin", "https://a.example"), ("host", "a.example")];
        assert!(!foreign(&own));
        assert!(!foreign(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ]));
        // Another port or a sibling subdomain: same site, another origin.
        assert!(foreign(&[
            ("origin", "http://127.0.0.1:8081"),
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "same-site")
        ]));
        assert!(foreign(&[
            ("origin", "https://evil.a.example"),
            ("host", "a.example")
        ]));
        assert!(foreign(&[
            ("origin", "https://a.example.evil"),
            ("host", "a.example")
        ]));
        assert!(foreign(&[("origin", "null"), ("host", "a.example")]));
        assert!(foreign(&[("origin", "https://a.example")]));
        assert!(foreign(&[
            ("origin", "https://a.example"),
            ("host", "a.example"),
            ("sec-fetch-site", "cross-site")
        ]));
        // An origin the application names.
        assert!(!foreign(&[
            ("origin", "https://Admin.example/"),
            ("host", "a.example")
        ]));
        assert!(!foreign(&[
            ("origin", "https://admin.example"),
            ("host", "a.example"),
            ("sec-fetch-site", "same-site")
        ]));
    }

    #[test]
    fn checks_cookie_names() {
        assert!(is_cookie_name("users_session"));
        for bad in ["", "a b", "a=b", "a;b", "é"] {
            assert!(!is_cookie_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn memory_revocations_forget_expired_tokens() {
        let list = MemoryRevocations::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (old, new) = (Uuid::now_v7(), Uuid::now_v7());
        rt.block_on(async {
            list.revoke(old, SystemTime::UNIX_EPOCH).await.unwrap();
            assert!(list.is_revoked(old).await.unwrap());
            let later = SystemTime::now() + std::time::Duration::from_secs(60);
            list.revoke(new, later).await.unwrap();
            assert!(!list.is_revoked(old).await.unwrap());
            assert!(list.is_revoked(new).await.unwrap());
        });
    }
}
