//! Error responses: `{"error": {"code": "…", "message": "…"}}` with a stable snake_case code,
//! and the extractors that turn axum's plain-text rejections into them.

use std::borrow::Cow;
use std::fmt;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use users_diesel::UsersError;

/// An error response: an HTTP status and a JSON body
/// `{"error": {"code": "email_taken", "message": "a user with this email address already exists"}}`.
///
/// The code is stable and meant for programs; the message is for people and may change. A
/// [`UsersError`] converts into the matching code (see the crate documentation for the table);
/// a database or configuration failure becomes `internal`, logged with [`tracing`] and answered
/// without its text.
///
/// ```
/// use axum::http::StatusCode;
/// use users_axum::ApiError;
/// use users_diesel::UsersError;
///
/// let error = ApiError::from(UsersError::EmailTaken);
/// assert_eq!((error.status(), error.code()), (StatusCode::CONFLICT, "email_taken"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401 `unauthorized`: the request carries no session.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this request needs a session: log in and send its token",
        )
    }

    /// 401 `invalid_token`: the session token is malformed, tampered with, expired, of another
    /// purpose, logged out, or from before a password change.
    pub fn invalid_session() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the session is invalid or has ended: log in again",
        )
    }

    /// 403 `forbidden`: the user lacks a role this request needs.
    pub fn forbidden() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you do not have a role this request needs",
        )
    }

    /// 400 `bad_request`, with what was wrong with the request.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 500 `internal`, with a message that says nothing about the cause.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    /// Logs `cause` and answers [`ApiError::internal`].
    pub(crate) fn logged(cause: &dyn fmt::Display) -> Self {
        tracing::error!("users-axum: internal error: {cause}");
        ApiError::internal()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error with a `Retry-After` header of `seconds` (at least one).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The seconds of the `Retry-After` header, if the answer has one.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        let (status, code) = match &error {
            UsersError::InvalidEmail(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            UsersError::InvalidPassword(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_password")
            }
            UsersError::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            UsersError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            UsersError::InactiveUser => (StatusCode::FORBIDDEN, "inactive_user"),
            UsersError::UnverifiedUser => (StatusCode::FORBIDDEN, "unverified_user"),
            UsersError::AlreadyVerified => (StatusCode::CONFLICT, "already_verified"),
            UsersError::InvalidToken => (StatusCode::BAD_REQUEST, "invalid_token"),
            UsersError::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
            UsersError::RoleExists => (StatusCode::CONFLICT, "role_exists"),
            UsersError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            UsersError::RoleNotFound => (StatusCode::NOT_FOUND, "role_not_found"),
            UsersError::TooManyAttempts { retry_after } => {
                // Rounded up: a client that waits the header's seconds is let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                return ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    error.to_string(),
                )
                .with_retry_after(seconds);
            }
            UsersError::Overloaded => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    error.to_string(),
                )
                .with_retry_after(1);
            }
            // Config, Database and whatever is added later: nothing of it reaches the client.
            _ => return ApiError::logged(&error),
        };
        // These messages quote no password, hash or token (users-core tests that).
        ApiError::new(status, code, error.to_string())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A JSON request body, like [`axum::Json`], whose rejections are [`ApiError`]s: a body over
/// the size limit is 413 `payload_too_large`, anything else wrong (malformed JSON, a missing or
/// mistyped field, no `Content-Type: application/json`) is 400 `bad_request`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    } else {
        ApiError::bad_request(rejection.body_text())
    }
}

/// Path parameters, like [`axum::extract::Path`], whose rejection is a 400 `bad_request`
/// [`ApiError`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_users_error_has_its_code_and_status() {
        let cases = [
            (UsersError::InvalidEmail("x".into()), 422, "invalid_email"),
            (
                UsersError::InvalidPassword("x".into()),
                422,
                "invalid_password",
            ),
            (UsersError::EmailTaken, 409, "email_taken"),
            (UsersError::InvalidCredentials, 401, "invalid_credentials"),
            (UsersError::InactiveUser, 403, "inactive_user"),
            (UsersError::UnverifiedUser, 403, "unverified_user"),
            (UsersError::AlreadyVerified, 409, "already_verified"),
            (UsersError::InvalidToken, 400, "invalid_token"),
            (UsersError::UserNotFound, 404, "user_not_found"),
            (UsersError::RoleExists, 409, "role_exists"),
            (UsersError::RoleNotFound, 404, "role_not_found"),
            (
                UsersError::TooManyAttempts {
                    retry_after: std::time::Duration::from_secs(5),
                },
                429,
                "too_many_attempts",
            ),
            (UsersError::Overloaded, 503, "overloaded"),
            (UsersError::Config("x".into()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status().as_u16(), api.code()), (status, code));
        }
    }

    #[test]
    fn throttled_answers_say_when_to_retry_rounded_up() {
        let throttled = ApiError::from(UsersError::TooManyAttempts {
            retry_after: std::time::Duration::from_millis(4_200),
        });
        assert_eq!(throttled.retry_after(), Some(5));
        let response = throttled.into_response();
        assert_eq!(response.headers()[RETRY_AFTER], "5");
        let overloaded = ApiError::from(UsersError::Overloaded).into_response();
        assert_eq!(overloaded.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(overloaded.headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn a_database_error_is_internal_and_quotes_nothing() {
        let error = UsersError::database("duplicate entry 'alice@example.com' for key 'email'");
        let api = ApiError::from(error);
        assert_eq!(api.code(), "internal");
        assert!(!api.message().contains("alice"), "{api}");
    }
}
