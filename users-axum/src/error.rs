//! Error responses: `{"error": {"code": "…", "message": "…"}}` with a stable snake_case code,
//! and the extractors that turn axum's plain-text rejections into them.

use std::borrow::Cow;
use std::fmt;

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde::Serialize;
use serde_json::error::Category;
use users_diesel::UsersError;
use utoipa::ToSchema;

use crate::ErrorCode;

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
/// use users_axum::{ApiError, ErrorCode};
/// use users_diesel::UsersError;
///
/// let error = ApiError::from(UsersError::EmailTaken);
/// assert_eq!((error.status(), error.code()), (StatusCode::CONFLICT, ErrorCode::EmailTaken));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    retry_after: Option<u64>,
    field: Option<Cow<'static, str>>,
    reason: Option<&'static str>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            field: None,
            reason: None,
        }
    }

    /// 422 `invalid_field`: the body is JSON, but its member `field` is missing, unknown,
    /// repeated or of the wrong type; the response names it in `error.field`.
    pub fn invalid_field(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            message,
        )
        .with_field(field)
    }

    /// Whether this answer is a proof of kind `proof` failing (`invalid_token` for a token,
    /// `invalid_credentials` for the others), which the guarded check counts.
    pub(crate) fn is_failed(&self, proof: users_diesel::Proof) -> bool {
        match proof {
            users_diesel::Proof::Token => self.code == ErrorCode::InvalidToken,
            _ => self.code == ErrorCode::InvalidCredentials,
        }
    }

    /// The same error, naming the request member `field` that caused it (`error.field` in the
    /// response).
    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same error, with a stable snake_case `reason` that says more than the code (in
    /// `error.reason` of the response): an `invalid_password` answer says which rule the
    /// password broke, `too_short`, `too_long`, `too_weak` or `rejected` (by the application's
    /// hook).
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// 404 `not_found`: no route has this path.
    pub fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "there is no route with this path",
        )
    }

    /// 405 `method_not_allowed`: the route exists, but not with this method.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "this route does not take this method",
        )
    }

    /// 401 `unauthorized`: the request carries no session.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "this request needs a session: log in and send its token",
        )
    }

    /// 401 `invalid_token`: the session token is malformed, tampered with, expired, of another
    /// purpose, logged out, or from before a password change.
    pub fn invalid_session() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "the session is invalid or has ended: log in again",
        )
    }

    /// The refusal of a token that *is* a login (a refresh token, a "second factor pending"
    /// token): its `invalid_token` is a 401, as a bad session's, since the client must log in
    /// again; any other refusal stays as it is.
    pub(crate) fn ends_login(self) -> Self {
        match self.code {
            ErrorCode::InvalidToken => ApiError::invalid_session(),
            _ => self,
        }
    }

    /// 403 `forbidden`: the user lacks a role this request needs.
    pub fn forbidden() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "you do not have a role this request needs",
        )
    }

    /// 400 `bad_request`, with what was wrong with the request.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// 500 `internal`, with a message that says nothing about the cause.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
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

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
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

    /// The request member that caused the error, if one did.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The finer reason under the code, if the error has one (see
    /// [`with_reason`](Self::with_reason)).
    pub fn reason(&self) -> Option<&'static str> {
        self.reason
    }
}

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        let (status, code) = match &error {
            UsersError::InvalidEmail(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidEmail)
            }
            UsersError::InvalidPassword(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidPassword)
            }
            UsersError::EmailTaken => (StatusCode::CONFLICT, ErrorCode::EmailTaken),
            UsersError::InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
            }
            UsersError::InactiveUser => (StatusCode::FORBIDDEN, ErrorCode::InactiveUser),
            UsersError::UnverifiedUser => (StatusCode::FORBIDDEN, ErrorCode::UnverifiedUser),
            UsersError::AlreadyVerified => (StatusCode::CONFLICT, ErrorCode::AlreadyVerified),
            UsersError::InvalidToken => (StatusCode::BAD_REQUEST, ErrorCode::InvalidToken),
            UsersError::UserNotFound => (StatusCode::NOT_FOUND, ErrorCode::UserNotFound),
            UsersError::PasswordRequired => (StatusCode::BAD_REQUEST, ErrorCode::PasswordRequired),
            UsersError::RoleExists => (StatusCode::CONFLICT, ErrorCode::RoleExists),
            UsersError::Conflict { .. } => (StatusCode::CONFLICT, ErrorCode::Conflict),
            UsersError::InvalidPermission(_) => {
                return ApiError::invalid_field("permission", error.to_string())
            }
            // A profile field's value that does not fit its column (a decimal too wide).
            UsersError::OutOfRange { column, .. } => {
                return ApiError::invalid_field(*column, error.to_string())
            }
            UsersError::LastSignInMethod => (StatusCode::CONFLICT, ErrorCode::LastSignInMethod),
            UsersError::RoleNotFound => (StatusCode::NOT_FOUND, ErrorCode::RoleNotFound),
            UsersError::InvalidRoleName(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRoleName)
            }
            // No existence oracle: someone outside an organization cannot tell it exists.
            UsersError::OrgNotFound => (StatusCode::NOT_FOUND, ErrorCode::OrgNotFound),
            UsersError::OrgExists => (StatusCode::CONFLICT, ErrorCode::OrgExists),
            UsersError::InvalidOrgName(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidOrgName)
            }
            UsersError::NotPermitted { .. } => (StatusCode::FORBIDDEN, ErrorCode::NotPermitted),
            UsersError::LastOwner => (StatusCode::CONFLICT, ErrorCode::LastOwner),
            UsersError::AlreadyMember => (StatusCode::CONFLICT, ErrorCode::AlreadyMember),
            UsersError::InvitationNotFound => {
                (StatusCode::NOT_FOUND, ErrorCode::InvitationNotFound)
            }
            UsersError::InvitationForAnotherAddress => (
                StatusCode::FORBIDDEN,
                ErrorCode::InvitationForAnotherAddress,
            ),
            UsersError::TooManyInvitations => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyInvitations)
            }
            UsersError::TooManyAttempts { retry_after } => {
                // Rounded up: a client that waits the header's seconds is let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                return ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyAttempts,
                    error.to_string(),
                )
                .with_retry_after(seconds);
            }
            UsersError::Overloaded => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Overloaded,
                    error.to_string(),
                )
                .with_retry_after(1);
            }
            // Config, Database and whatever is added later: nothing of it reaches the client.
            _ => return ApiError::logged(&error),
        };
        // These messages quote no password, hash or token (users-core tests that).
        let api = ApiError::new(status, code, error.to_string());
        match &error {
            UsersError::InvalidEmail(problem) => {
                api.with_field("email").with_reason(problem.code())
            }
            UsersError::InvalidPassword(problem) => {
                api.with_field("password").with_reason(problem.code())
            }
            UsersError::PasswordRequired => api.with_field("current_password"),
            _ => api,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A refusal: a stable code for programs, a message for people.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    #[schema(inline)]
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorDetail {
    #[schema(inline)]
    code: ErrorCode,
    #[schema(value_type = String)]
    message: Cow<'static, str>,
    /// the request member at fault, if one is
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    field: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = problem_reason)]
    reason: Option<&'static str>,
}

/// The reasons of an `invalid_email` and an `invalid_password`.
fn problem_reason() -> utoipa::openapi::schema::ObjectBuilder {
    let email = users_diesel::EmailProblem::ALL.map(|problem| problem.code());
    let password = ["too_short", "too_long", "too_weak", "rejected"];
    let mut reasons: Vec<&str> = email.into_iter().chain(password).collect();
    reasons.sort_unstable();
    reasons.dedup();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(reasons))
        .description(Some(
            "which rule a malformed address (`invalid_email`) or a new password \
             (`invalid_password`) broke",
        ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = ErrorDetail {
            code: self.code,
            message: self.message,
            field: self.field,
            reason: self.reason,
        };
        let mut response = (self.status, axum::Json(ErrorBody { error })).into_response();
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
/// the size limit is 413 `payload_too_large`; a body that is not JSON (or comes without
/// `Content-Type: application/json`) is 400 `bad_request`; JSON whose member is missing,
/// unknown, repeated or of the wrong type is 422 `invalid_field`, naming the member in
/// `error.field`. A member repeated in an object is refused on every route, whatever `T` does
/// with duplicates, so no route silently picks one of two values.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::bad_request(
                "expected a request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_rejection(rejection.status(), rejection.body_text()))?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the request body is too large",
        )
    } else {
        ApiError::bad_request(text)
    }
}

/// Parses a JSON body into `T`: a syntax error is 400 `bad_request`; a duplicated member or one
/// that `T` refuses is 422 `invalid_field`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    if let Err(error) = serde::Deserializer::deserialize_any(&mut deserializer, NoDuplicates) {
        return Err(match error.classify() {
            Category::Data => duplicate_member(&error.to_string()),
            _ => ApiError::bad_request(format!("invalid JSON: {error}")),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => {
                let message = inner.to_string();
                let field = quoted_member(&message)
                    .map(str::to_owned)
                    .unwrap_or_else(|| if path == "." { String::new() } else { path });
                ApiError::invalid_field(field, format!("invalid field: {message}"))
            }
            _ => ApiError::bad_request(format!("invalid JSON: {inner}")),
        }
    })
}

fn duplicate_member(message: &str) -> ApiError {
    let field = quoted_member(message).unwrap_or("").to_owned();
    ApiError::invalid_field(field, format!("invalid field: {message}"))
}

/// The member that serde's messages about members quote: "missing field `email`",
/// "unknown field `x`, …", "duplicate field `email`".
pub(crate) fn quoted_member(message: &str) -> Option<&str> {
    let about_a_member = ["missing field", "unknown field", "duplicate field"];
    if !about_a_member
        .iter()
        .any(|start| message.starts_with(start))
    {
        return None;
    }
    let (_, rest) = message.split_once('`')?;
    rest.split_once('`').map(|(member, _)| member)
}

/// Walks a JSON document and refuses an object that repeats a member.
struct NoDuplicates;

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(NoDuplicates)?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The fallback of the router: a JSON 404.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The answer to a method a route does not take: a JSON 405 (axum adds `Allow`).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
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

/// The manager's refusal of a provider sign-in, said for it.
#[cfg(feature = "oidc")]
pub(crate) fn sign_in_refused(provider: &str, error: UsersError) -> ApiError {
    match error {
        UsersError::EmailTaken => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::EmailTaken,
            format!(
                "an account with this email address exists, and {provider} or the account has not \
                 verified it: log in to that account and link {provider} from there"
            ),
        ),
        UsersError::Conflict { column: "subject" } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::OauthAccountTaken,
            format!("this {provider} account is linked to another user"),
        ),
        UsersError::Conflict { column: "provider" } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::OauthProviderLinked,
            format!("another {provider} account is linked already: unlink it first"),
        ),
        UsersError::InvalidEmail(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidEmail,
            format!("{provider} gave no usable email address"),
        ),
        error => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_users_error_has_its_code_and_status() {
        let cases = [
            (
                UsersError::InvalidEmail(users_diesel::EmailProblem::NoAt),
                422,
                "invalid_email",
            ),
            (
                UsersError::InvalidPassword(users_diesel::PasswordProblem::Rejected("x".into())),
                422,
                "invalid_password",
            ),
            (UsersError::EmailTaken, 409, "email_taken"),
            (UsersError::LastSignInMethod, 409, "last_sign_in_method"),
            (UsersError::InvalidCredentials, 401, "invalid_credentials"),
            (UsersError::InactiveUser, 403, "inactive_user"),
            (UsersError::UnverifiedUser, 403, "unverified_user"),
            (UsersError::AlreadyVerified, 409, "already_verified"),
            (UsersError::InvalidToken, 400, "invalid_token"),
            (UsersError::UserNotFound, 404, "user_not_found"),
            (UsersError::PasswordRequired, 400, "password_required"),
            (UsersError::RoleExists, 409, "role_exists"),
            (UsersError::RoleNotFound, 404, "role_not_found"),
            (UsersError::OrgNotFound, 404, "org_not_found"),
            (UsersError::OrgExists, 409, "org_exists"),
            (
                UsersError::InvalidOrgName("x".into()),
                422,
                "invalid_org_name",
            ),
            (
                UsersError::NotPermitted {
                    permission: "org.delete".into(),
                },
                403,
                "not_permitted",
            ),
            (UsersError::LastOwner, 409, "last_owner"),
            (UsersError::AlreadyMember, 409, "already_member"),
            (UsersError::InvitationNotFound, 404, "invitation_not_found"),
            (
                UsersError::InvitationForAnotherAddress,
                403,
                "invitation_for_another_address",
            ),
            (UsersError::TooManyInvitations, 429, "too_many_invitations"),
            (
                UsersError::InvalidRoleName("x".into()),
                422,
                "invalid_role_name",
            ),
            (
                UsersError::TooManyAttempts {
                    retry_after: std::time::Duration::from_secs(5),
                },
                429,
                "too_many_attempts",
            ),
            (UsersError::Overloaded, 503, "overloaded"),
            (UsersError::config("secret", "x"), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status().as_u16(), api.code().as_str()), (status, code));
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

    #[test]
    fn an_invalid_email_names_the_broken_rule() {
        use users_diesel::EmailProblem;

        for problem in EmailProblem::ALL {
            let api = ApiError::from(UsersError::InvalidEmail(problem));
            assert_eq!(
                (api.code(), api.field(), api.reason()),
                (ErrorCode::InvalidEmail, Some("email"), Some(problem.code()))
            );
            assert_eq!(api.message(), format!("invalid email address: {problem}"));
        }
    }

    #[test]
    fn an_invalid_password_names_the_broken_rule() {
        use users_diesel::PasswordProblem;

        let weak = PasswordProblem::TooWeak {
            score: 1,
            required: 3,
            warning: Some("This is a very common password.".to_owned()),
            suggestions: Vec::new(),
        };
        for (problem, reason) in [
            (PasswordProblem::TooShort { min_chars: 8 }, "too_short"),
            (PasswordProblem::TooLong { max_bytes: 4096 }, "too_long"),
            (weak, "too_weak"),
            (PasswordProblem::Rejected("no".to_owned()), "rejected"),
        ] {
            let message = format!("invalid password: {problem}");
            let api = ApiError::from(UsersError::InvalidPassword(problem));
            assert_eq!(
                (api.code(), api.field(), api.reason(), api.message()),
                (
                    ErrorCode::InvalidPassword,
                    Some("password"),
                    Some(reason),
                    message.as_str()
                )
            );
        }
        assert_eq!(ApiError::from(UsersError::EmailTaken).reason(), None);
    }
}
