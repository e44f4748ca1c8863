//! The OpenAPI 3.1 document of the router, built with utoipa from one table of the routes
//! ([`ROUTES`]) and the application's [`Profile::Fields`] schema.

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::{ErrorCode as Code, Profile};

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Anyone,
    Session,
    Admin,
}

/// One route as the document describes it.
struct Route {
    method: HttpMethod,
    path: &'static str,
    summary: &'static str,
    access: Access,
    /// The request body's schema, if the route takes one.
    body: Option<&'static str>,
    /// The success status, its description and the answer's schema (none: an empty answer).
    ok: (u16, &'static str, Option<&'static str>),
    /// The refusals particular to the route, by status; those of every route with a body, a
    /// path parameter or a session are added to them.
    errors: &'static [(u16, &'static [Code])],
}

const fn route(
    method: HttpMethod,
    path: &'static str,
    summary: &'static str,
    access: Access,
    body: Option<&'static str>,
    ok: (u16, &'static str, Option<&'static str>),
    errors: &'static [(u16, &'static [Code])],
) -> Route {
    Route {
        method,
        path,
        summary,
        access,
        body,
        ok,
        errors,
    }
}

use Access::{Admin, Anyone, Session};
use HttpMethod::{Delete, Get, Patch, Post};

/// Every route of [`router`](crate::router), as the README's route table lists them.
const ROUTES: &[Route] = &[
    route(
        Post,
        "/auth/register",
        "Register a user; a verification token is mailed",
        Anyone,
        Some("Registration"),
        (201, "the new user", Some("User")),
        &[
            (409, &[Code::EmailTaken, Code::Conflict]),
            (422, &[Code::InvalidEmail, Code::InvalidPassword]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/auth/login",
        "Log in: an access token and a refresh token (stored sessions); for a user with a second \
         factor, a pending token for `POST /auth/mfa` instead",
        Anyone,
        Some("Credentials"),
        (
            200,
            "a new session, or the second factor to give",
            Some("LoginAnswer"),
        ),
        &[
            (401, &[Code::InvalidCredentials]),
            (403, &[Code::InactiveUser, Code::UnverifiedUser]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/auth/mfa",
        "Complete a login with its `mfa_token` and a TOTP `code` or a `recovery_code`",
        Anyone,
        Some("SecondFactorLogin"),
        (200, "a new session", Some("Session")),
        &[
            (401, &[Code::InvalidToken, Code::InvalidCredentials]),
            (403, &[Code::InactiveUser]),
            (429, &[Code::TooManyAttempts]),
        ],
    ),
    route(
        Post,
        "/auth/refresh",
        "Swap a refresh token for new tokens of its session; the refresh token is retired, and \
         a retired one presented again ends the session",
        Anyone,
        Some("RefreshRequest"),
        (200, "new tokens of the session", Some("Session")),
        &[
            (401, &[Code::InvalidToken]),
            (403, &[Code::InactiveUser]),
            (404, &[Code::NotFound]),
            (429, &[Code::TooManyAttempts]),
        ],
    ),
    route(
        Post,
        "/auth/logout",
        "End this session; by cookie, only from the application's own origin (another origin \
         is 403)",
        Session,
        None,
        (204, "the session is over", None),
        &[(403, &[Code::Forbidden])],
    ),
    route(
        Post,
        "/auth/request-verify",
        "Mail a verification token, if the address has an unverified account",
        Anyone,
        Some("EmailRequest"),
        (
            202,
            "the same answer whether or not the address has an account",
            Some("Message"),
        ),
        &[(429, &[Code::TooManyAttempts])],
    ),
    route(
        Post,
        "/auth/verify",
        "Verify the email address of a verification token; with the token of an email change, \
         make its new address the user's",
        Anyone,
        Some("TokenRequest"),
        (200, "the verified user", Some("User")),
        &[
            (400, &[Code::InvalidToken]),
            (403, &[Code::InactiveUser]),
            (409, &[Code::AlreadyVerified, Code::EmailTaken]),
            (429, &[Code::TooManyAttempts]),
        ],
    ),
    route(
        Post,
        "/auth/forgot-password",
        "Mail a password reset token, if the address has an account",
        Anyone,
        Some("EmailRequest"),
        (
            202,
            "the same answer whether or not the address has an account",
            Some("Message"),
        ),
        &[(429, &[Code::TooManyAttempts])],
    ),
    route(
        Post,
        "/auth/reset-password",
        "Set a new password with a reset token",
        Anyone,
        Some("PasswordReset"),
        (200, "the user, with the new password", Some("User")),
        &[
            (400, &[Code::InvalidToken]),
            (403, &[Code::InactiveUser]),
            (422, &[Code::InvalidPassword]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Get,
        "/users/me",
        "The user of the session",
        Session,
        None,
        (200, "the user", Some("User")),
        &[],
    ),
    route(
        Patch,
        "/users/me",
        "Change the session user's profile or password, or ask to change the email (pending \
         until the new address is verified); both need `current_password`",
        Session,
        Some("UserUpdate"),
        (
            200,
            "the user (with the address it had: a new one is pending); with a new `session` \
             after a password change or an email change request",
            Some("User"),
        ),
        &[
            (401, &[Code::InvalidCredentials]),
            (403, &[Code::InactiveUser]),
            (409, &[Code::EmailTaken, Code::Conflict]),
            (422, &[Code::InvalidEmail, Code::InvalidPassword]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Delete,
        "/users/me",
        "Delete the session user's account, confirmed with the password",
        Session,
        Some("PasswordConfirmation"),
        (204, "the account is deleted", None),
        &[
            (401, &[Code::InvalidCredentials]),
            (409, &[Code::LastAdmin]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Get,
        "/users/me/sessions",
        "The session user's live sessions, newest first; `current` marks this one",
        Session,
        None,
        (200, "the sessions", Some("SessionList")),
        &[(404, &[Code::NotFound])],
    ),
    route(
        Delete,
        "/users/me/sessions",
        "End every other session of the session user (log out everywhere else)",
        Session,
        None,
        (200, "how many sessions ended", Some("Ended")),
        &[(404, &[Code::NotFound])],
    ),
    route(
        Delete,
        "/users/me/sessions/{session_id}",
        "End one session of the session user",
        Session,
        None,
        (204, "the session is over", None),
        &[(404, &[Code::NotFound])],
    ),
    route(
        Get,
        "/users/me/mfa",
        "The session user's second factors",
        Session,
        None,
        (200, "the second factors", Some("SecondFactors")),
        &[],
    ),
    route(
        Post,
        "/users/me/mfa/totp",
        "Start a TOTP enrolment, given the password (or a factor): the secret and its otpauth \
         URI, shown once; enforced once confirmed",
        Session,
        Some("PresenceProof"),
        (200, "the enrolment", Some("TotpEnrollment")),
        &[
            (401, &[Code::InvalidCredentials]),
            (403, &[Code::UnverifiedUser]),
            (409, &[Code::Conflict]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/users/me/mfa/totp/confirm",
        "Confirm the TOTP enrolment with a first code: the recovery codes, shown once",
        Session,
        Some("CodeRequest"),
        (200, "the recovery codes", Some("RecoveryCodes")),
        &[
            (401, &[Code::InvalidCredentials]),
            (409, &[Code::Conflict]),
            (429, &[Code::TooManyAttempts]),
        ],
    ),
    route(
        Delete,
        "/users/me/mfa/totp",
        "Remove the TOTP and the recovery codes, given the password, a code or a recovery code",
        Session,
        Some("PresenceProof"),
        (204, "the TOTP is removed", None),
        &[
            (401, &[Code::InvalidCredentials]),
            (409, &[Code::Conflict]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/users/me/mfa/recovery-codes",
        "Replace the recovery codes, given the password, a code or a recovery code",
        Session,
        Some("PresenceProof"),
        (200, "the new recovery codes", Some("RecoveryCodes")),
        &[
            (401, &[Code::InvalidCredentials]),
            (409, &[Code::Conflict]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Delete,
        "/users/{user_id}/sessions",
        "End every session of a user (log them out everywhere)",
        Admin,
        None,
        (200, "how many sessions ended", Some("Ended")),
        &[(404, &[Code::UserNotFound, Code::NotFound])],
    ),
    route(
        Get,
        "/users",
        "A page of users, oldest first, with filters; `next` is the cursor of the page after",
        Admin,
        None,
        (200, "the page", Some("UserList")),
        &[
            (404, &[Code::RoleNotFound]),
            (422, &[Code::InvalidEmail, Code::InvalidField]),
        ],
    ),
    route(
        Get,
        "/roles",
        "Every role, by name",
        Admin,
        None,
        (200, "the roles", Some("RoleList")),
        &[],
    ),
    route(
        Post,
        "/roles",
        "Create a role",
        Admin,
        Some("RoleRequest"),
        (201, "the new role", Some("Role")),
        &[(409, &[Code::RoleExists]), (422, &[Code::InvalidRoleName])],
    ),
    route(
        Delete,
        "/roles/{name}",
        "Delete a role and its assignments (not the administrators' role)",
        Admin,
        None,
        (204, "the role is deleted", None),
        &[(404, &[Code::RoleNotFound]), (409, &[Code::LastAdmin])],
    ),
    route(
        Post,
        "/roles/{name}/users/{user_id}",
        "Give a user a role (again: no change)",
        Admin,
        None,
        (204, "the user has the role", None),
        &[(404, &[Code::UserNotFound, Code::RoleNotFound])],
    ),
    route(
        Delete,
        "/roles/{name}/users/{user_id}",
        "Take a role from a user (not the administrators' role from the last active \
         administrator)",
        Admin,
        None,
        (204, "the user lacks the role", None),
        &[
            (404, &[Code::UserNotFound, Code::RoleNotFound]),
            (409, &[Code::LastAdmin]),
        ],
    ),
    route(
        Get,
        "/users/{user_id}",
        "A user, with their roles",
        Admin,
        None,
        (200, "the user", Some("User")),
        &[(404, &[Code::UserNotFound])],
    ),
    route(
        Patch,
        "/users/{user_id}",
        "Change a user's email, flags or profile; a deactivated user's sessions end at once",
        Admin,
        Some("AdminUserUpdate"),
        (200, "the user", Some("User")),
        &[
            (404, &[Code::UserNotFound]),
            (409, &[Code::EmailTaken, Code::Conflict, Code::LastAdmin]),
            (422, &[Code::InvalidEmail]),
        ],
    ),
    route(
        Delete,
        "/users/{user_id}",
        "Delete a user (not the last active administrator)",
        Admin,
        None,
        (204, "the user is deleted", None),
        &[(404, &[Code::UserNotFound]), (409, &[Code::LastAdmin])],
    ),
];

/// The passkey routes (feature `passkeys`); without `UsersState::passkeys` they answer 404.
#[cfg(feature = "passkeys")]
const PASSKEY_ROUTES: &[Route] = &[
    route(
        Get,
        "/users/me/passkeys",
        "The session user's passkeys",
        Session,
        None,
        (200, "the passkeys", Some("PasskeyList")),
        &[(404, &[Code::NotFound])],
    ),
    route(
        Post,
        "/users/me/passkeys/register/start",
        "Start registering a passkey, given the password (or a factor): the options for \
         `navigator.credentials.create` and the sealed ceremony state",
        Session,
        Some("PresenceProof"),
        (200, "the ceremony", Some("PasskeyCeremony")),
        &[
            (401, &[Code::InvalidCredentials]),
            (403, &[Code::UnverifiedUser]),
            (404, &[Code::NotFound]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/users/me/passkeys/register/finish",
        "Finish registering a passkey with the authenticator's answer and the state",
        Session,
        Some("PasskeyRegistration"),
        (201, "the passkey", Some("Passkey")),
        &[
            (400, &[Code::InvalidToken]),
            (401, &[Code::InvalidCredentials]),
            (404, &[Code::NotFound]),
            (409, &[Code::Conflict]),
        ],
    ),
    route(
        Delete,
        "/users/me/passkeys/{passkey_id}",
        "Remove a passkey, given the password, a code or a recovery code",
        Session,
        Some("PresenceProof"),
        (204, "the passkey is removed", None),
        &[
            (401, &[Code::InvalidCredentials]),
            (404, &[Code::NotFound]),
            (429, &[Code::TooManyAttempts]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Post,
        "/auth/passkey/start",
        "Start a passwordless sign-in with a passkey of the account of `email`",
        Anyone,
        Some("EmailRequest"),
        (200, "the ceremony", Some("PasskeyCeremony")),
        &[(401, &[Code::InvalidCredentials]), (404, &[Code::NotFound])],
    ),
    route(
        Post,
        "/auth/passkey/finish",
        "Finish a passwordless sign-in: a session, once per ceremony",
        Anyone,
        Some("PasskeySignIn"),
        (200, "a new session", Some("Session")),
        &[
            (400, &[Code::InvalidToken]),
            (401, &[Code::InvalidCredentials, Code::InvalidToken]),
            (403, &[Code::InactiveUser, Code::UnverifiedUser]),
            (404, &[Code::NotFound]),
            (429, &[Code::TooManyAttempts]),
        ],
    ),
    route(
        Post,
        "/auth/mfa/passkey",
        "Start a passkey ceremony as the second factor of a login (then `POST /auth/mfa`)",
        Anyone,
        Some("PendingLogin"),
        (200, "the ceremony", Some("PasskeyCeremony")),
        &[
            (401, &[Code::InvalidToken, Code::InvalidCredentials]),
            (403, &[Code::InactiveUser]),
            (404, &[Code::NotFound]),
        ],
    ),
];

/// The provider sign-in routes (feature `oidc`); without `UsersState::oauth` they answer 404.
#[cfg(feature = "oidc")]
const OAUTH_ROUTES: &[Route] = &[
    route(
        Get,
        "/auth/{provider}/authorize",
        "Sign in with a provider: a redirect to its authorization URL (PKCE, `state`, `nonce`), \
         with the flow's sealed cookie",
        Anyone,
        None,
        (303, "to the provider", None),
        &[
            (404, &[Code::NotFound]),
            (502, &[Code::ProviderUnavailable]),
        ],
    ),
    route(
        Get,
        "/auth/{provider}/callback",
        "The provider's answer (query `code`, `state`, `iss` or `error`): the login's answer, or \
         a redirect to the configured page; with an associate flow, the linked account",
        Anyone,
        None,
        (
            200,
            "a new session, or the second factor to give",
            Some("LoginAnswer"),
        ),
        &[
            (
                400,
                &[
                    Code::InvalidState,
                    Code::OauthRefused,
                    Code::OauthDenied,
                    Code::InvalidToken,
                ],
            ),
            (403, &[Code::InactiveUser, Code::UnverifiedUser]),
            (404, &[Code::NotFound]),
            (
                409,
                &[
                    Code::EmailTaken,
                    Code::OauthAccountTaken,
                    Code::OauthProviderLinked,
                ],
            ),
            (422, &[Code::InvalidEmail]),
            (502, &[Code::ProviderUnavailable]),
        ],
    ),
    route(
        Post,
        "/auth/{provider}/associate",
        "Link a provider account to the session user, given the password (or a factor), on a \
         verified address: the authorization URL to open, with the flow's sealed cookie",
        Session,
        Some("PresenceProof"),
        (200, "the URL to open", Some("AuthorizationUrl")),
        &[
            (401, &[Code::InvalidCredentials]),
            (403, &[Code::UnverifiedUser]),
            (404, &[Code::NotFound]),
            (429, &[Code::TooManyAttempts]),
            (502, &[Code::ProviderUnavailable]),
            (503, &[Code::Overloaded]),
        ],
    ),
    route(
        Get,
        "/users/me/oauth",
        "The session user's linked provider accounts, and whether they have a password",
        Session,
        None,
        (200, "the accounts", Some("OAuthAccountList")),
        &[(404, &[Code::NotFound])],
    ),
    route(
        Delete,
        "/users/me/oauth/{provider}",
        "Unlink a provider account, unless it is the last way to sign in",
        Session,
        None,
        (204, "the account is unlinked", None),
        &[(404, &[Code::NotFound]), (409, &[Code::LastSignInMethod])],
    ),
];

/// The OpenAPI 3.1 document of [`router`](crate::router) for the user model `U`: every route
/// with its request and answer bodies (the profile fields of `U` included), each refusal by
/// status with its codes, the bearer security scheme and examples.
///
/// Merge it with an application's own document with [`OpenApi::merge`]; the router serves it
/// (with the cookie scheme, if sessions use a cookie) where
/// [`UsersState::openapi_json`](crate::UsersState::openapi_json) says.
pub fn openapi<U: Profile>() -> OpenApi {
    let mut paths = PathsBuilder::new();
    #[cfg(feature = "passkeys")]
    let routes = ROUTES.iter().chain(PASSKEY_ROUTES);
    #[cfg(not(feature = "passkeys"))]
    let routes = ROUTES.iter();
    #[cfg(feature = "oidc")]
    let routes = routes.chain(OAUTH_ROUTES);
    for route in routes {
        paths = paths.path(
            route.path,
            PathItem::new(route.method.clone(), operation(route)),
        );
    }
    let components = schemas::<U>()
        .into_iter()
        .fold(ComponentsBuilder::new(), |components, (name, schema)| {
            components.schema(name, schema)
        })
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the `access_token` of `POST /auth/login`"))
                    .build(),
            ),
        );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("users")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Registration, sessions, verification, password reset, the user's own \
                     account, and user and role administration. Every refusal is \
                     `{\"error\": {\"code\", \"message\"}}`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

/// Adds the session cookie `name` as a second way to send the session, and the route that
/// serves the document at `path`.
pub(crate) fn served(mut document: OpenApi, cookie: Option<&str>, path: Option<&str>) -> OpenApi {
    if let Some(name) = cookie {
        if let Some(components) = document.components.as_mut() {
            components.add_security_scheme(
                "cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(name))),
            );
        }
        for item in document.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if let Some(security) = operation.security.as_mut() {
                    security.push(SecurityRequirement::new("cookie", Vec::<String>::new()));
                }
            }
        }
    }
    let Some(path) = path else {
        return document;
    };
    let this = OperationBuilder::new()
        .summary(Some("This document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("the OpenAPI document")
                .content("application/json", ContentBuilder::new().build())
                .build(),
        )
        .build();
    document
        .paths
        .add_path_operation(path, vec![HttpMethod::Get], this);
    document
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let mut operation = OperationBuilder::new()
        .operation_id(Some(operation_id(&route.method, route.path)))
        .summary(Some(route.summary))
        .tag(if route.path.starts_with("/auth") {
            "auth"
        } else if route.access == Admin {
            "admin"
        } else {
            "users"
        });
    for name in path_parameters(route.path) {
        let schema = if name.ends_with("_id") {
            string().format(Some(SchemaFormat::Custom("uuid".to_owned())))
        } else {
            string()
        };
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    if route.path.ends_with("/callback") {
        for name in ["code", "state", "iss", "error"] {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(string())),
            );
        }
    }
    if route.path == "/users" {
        for (name, schema, description) in list_parameters() {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(description))
                    .schema(Some(schema)),
            );
        }
    }
    if let Some(body) = route.body {
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(body)))
                        .build(),
                )
                .build(),
        ));
    }
    if route.access != Anyone {
        operation = operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }

    let (status, description, schema) = route.ok;
    let mut ok = ResponseBuilder::new().description(description);
    if let Some(schema) = schema {
        ok = ok.content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        );
    }
    let mut responses = ResponsesBuilder::new().response(status.to_string(), ok.build());
    for (status, codes) in refusals(route) {
        responses = responses.response(status.to_string(), refusal(&codes));
    }
    operation.responses(responses.build()).build()
}

/// `post_auth_register`, `get_users_user_id`: the method and the path's words.
fn operation_id(method: &HttpMethod, path: &str) -> String {
    let method = match method {
        Get => "get",
        Post => "post",
        Patch => "patch",
        Delete => "delete",
        _ => "other",
    };
    let words = path
        .split(['/', '-', '{', '}'])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    format!("{method}_{words}")
}

/// The query parameters of `GET /users`.
fn list_parameters() -> Vec<(&'static str, ObjectBuilder, &'static str)> {
    vec![
        ("after", uuid(), "the `next` of the previous page"),
        (
            "limit",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(users_diesel::MAX_PAGE_SIZE)),
            "how many users at most (50 by default)",
        ),
        ("email", string(), "only addresses that start with this"),
        (
            "is_active",
            boolean(),
            "only active or only deactivated users",
        ),
        (
            "is_verified",
            boolean(),
            "only verified or only unverified users",
        ),
        ("role", string(), "only users with the role of this name"),
    ]
}

/// The methods that complete a login.
fn methods() -> ArrayBuilder {
    ArrayBuilder::new().items(string().enum_values(Some(["totp", "recovery_code", "passkey"])))
}

/// Any JSON object (WebAuthn's, as the browser makes and takes them).
#[cfg(feature = "passkeys")]
fn free_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

/// A TOTP code: six digits.
fn totp_code() -> ObjectBuilder {
    string().examples([json!("123456")])
}

/// A time, RFC 3339 in UTC.
fn time() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::Custom("uuid".to_owned())))
}

/// The `{name}`s of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// Every refusal of a route, by status: its own and those of what it takes.
fn refusals(route: &Route) -> BTreeMap<u16, Vec<Code>> {
    let mut refusals: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    let mut add = |status: u16, codes: &[Code]| {
        let known = refusals.entry(status).or_default();
        for code in codes {
            if !known.contains(code) {
                known.push(*code);
            }
        }
    };
    for (status, codes) in route.errors {
        add(*status, codes);
    }
    if route.body.is_some() {
        add(400, &[Code::BadRequest]);
        add(413, &[Code::PayloadTooLarge]);
        add(422, &[Code::InvalidField]);
    }
    if route.path.contains('{') {
        add(400, &[Code::BadRequest]);
    }
    if route.access != Anyone {
        add(401, &[Code::Unauthorized, Code::InvalidToken]);
        add(403, &[Code::InactiveUser, Code::UnverifiedUser]);
    }
    if route.access == Admin {
        add(403, &[Code::Forbidden]);
    }
    if route.access != Anyone && !matches!(route.method, Get) {
        // A state-changing request by the session cookie from another origin.
        add(403, &[Code::Forbidden]);
    }
    add(500, &[Code::Internal]);
    refusals
}

/// The answer of a refusal with one of `codes`.
fn refusal(codes: &[Code]) -> utoipa::openapi::Response {
    let list = codes
        .iter()
        .map(|code| format!("`{code}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let example =
        json!({ "error": { "code": codes[0], "message": "what went wrong, for people" } });
    ResponseBuilder::new()
        .description(format!("refused: {list}"))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .example(Some(example))
                .build(),
        )
        .build()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// An address as the manager takes it: one `@` between non-empty parts, no whitespace or
/// control characters but around it (trimmed), any case (lowercased). The manager's 254-byte
/// bound is not a length in characters, so it is left to the 422.
fn email() -> ObjectBuilder {
    string()
        .pattern(Some(r"^\s*[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\s*$"))
        .examples([json!("alice@example.com")])
}

fn password() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .examples([json!("correct horse battery staple")])
}

/// A new password: at least 8 characters and at most 4096 bytes. A character takes up to 4
/// bytes, so no length in characters is the byte bound; 4096 characters refuses nothing the
/// manager takes. The strength estimate is no schema rule: its refusal is `invalid_password`
/// with the reason `too_weak`.
fn new_password() -> ObjectBuilder {
    password()
        .min_length(Some(8))
        .max_length(Some(4096))
        .description(Some(
            "a new password: also refused (`invalid_password`, reason `too_weak`) if it is too \
             easy to guess, or made of the account's email address or profile",
        ))
}

fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

/// A closed object with these properties, the `required` ones required.
fn object(properties: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> ObjectBuilder {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in properties {
        object = object.property(name, schema);
    }
    for name in required {
        object = object.required(*name);
    }
    object
}

/// The properties of `U`'s profile, and which of them its schema requires.
fn profile_properties<U: Profile>() -> (BTreeMap<String, RefOr<Schema>>, Vec<String>) {
    match U::Fields::schema() {
        RefOr::T(Schema::Object(object)) => (object.properties, object.required),
        _ => (BTreeMap::new(), Vec::new()),
    }
}

/// `object` with the profile's properties, required (`required`) or not.
fn with_profile<U: Profile>(mut object: ObjectBuilder, required: bool) -> RefOr<Schema> {
    let (properties, _) = profile_properties::<U>();
    for (name, schema) in properties {
        if required {
            object = object.required(name.clone());
        }
        object = object.property(name, schema);
    }
    RefOr::T(Schema::Object(object.build()))
}

fn schemas<U: Profile>() -> Vec<(String, RefOr<Schema>)> {
    let roles = ArrayBuilder::new()
        .items(string())
        .examples([json!(["admin"])]);
    let user = object(
        vec![
            ("id", uuid().into()),
            ("email", email().into()),
            ("is_active", boolean().into()),
            ("is_verified", boolean().into()),
            ("roles", roles.into()),
            ("session", Ref::from_schema_name("Session").into()),
        ],
        &["id", "email", "is_active", "is_verified", "roles"],
    )
    .description(Some(
        "A user: the account's members, then the profile fields",
    ));
    let error = object(
        vec![(
            "error",
            object(
                vec![
                    (
                        "code",
                        string()
                            .enum_values(Some(Code::ALL.iter().map(|code| code.as_str())))
                            .into(),
                    ),
                    ("message", string().into()),
                    (
                        "field",
                        string()
                            .description(Some("the request member at fault, if one is"))
                            .into(),
                    ),
                    (
                        "reason",
                        string()
                            .enum_values(Some(["too_short", "too_long", "too_weak", "rejected"]))
                            .description(Some(
                                "which password rule a new password broke (`invalid_password`)",
                            ))
                            .into(),
                    ),
                ],
                &["code", "message"],
            )
            .into(),
        )],
        &["error"],
    )
    .description(Some(
        "A refusal: a stable code for programs, a message for people",
    ));
    let mut schemas = vec![
        ("User", with_profile::<U>(user, true)),
        (
            "Registration",
            with_profile::<U>(
                object(
                    vec![
                        ("email", email().into()),
                        ("password", new_password().into()),
                    ],
                    &["email", "password"],
                ),
                false,
            ),
        ),
        (
            "Credentials",
            object(
                vec![
                    (
                        "email",
                        string().examples([json!("alice@example.com")]).into(),
                    ),
                    ("password", password().into()),
                ],
                &["email", "password"],
            )
            .into(),
        ),
        (
            "Session",
            object(
                vec![
                    ("access_token", string().into()),
                    ("token_type", string().enum_values(Some(["bearer"])).into()),
                    (
                        "expires_in",
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .description(Some("seconds"))
                            .into(),
                    ),
                    (
                        "refresh_token",
                        string()
                            .description(Some(
                                "for `POST /auth/refresh`; works once (stored sessions only)",
                            ))
                            .into(),
                    ),
                ],
                &["access_token", "token_type", "expires_in"],
            )
            .into(),
        ),
        (
            "LoginAnswer",
            RefOr::T(Schema::OneOf(
                utoipa::openapi::schema::OneOfBuilder::new()
                    .item(Ref::from_schema_name("Session"))
                    .item(Ref::from_schema_name("SecondFactorRequired"))
                    .build(),
            )),
        ),
        (
            "SecondFactorRequired",
            object(
                vec![
                    ("mfa_required", boolean().enum_values(Some([true])).into()),
                    (
                        "mfa_token",
                        string()
                            .description(Some("for `POST /auth/mfa`; single-use, 5 minutes"))
                            .into(),
                    ),
                    ("methods", methods().into()),
                ],
                &["mfa_required", "mfa_token", "methods"],
            )
            .into(),
        ),
        (
            "SecondFactorLogin",
            object(second_factor_members(), &["mfa_token"])
                .description(Some(
                    "`mfa_token` and one of `code`, `recovery_code` or (feature `passkeys`) \
                 `passkey` with its `state`",
                ))
                .into(),
        ),
        (
            "SecondFactors",
            object(
                vec![
                    ("totp", boolean().into()),
                    ("totp_pending", boolean().into()),
                    (
                        "recovery_codes_left",
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .into(),
                    ),
                    ("methods", methods().into()),
                ],
                &["totp", "totp_pending", "recovery_codes_left", "methods"],
            )
            .into(),
        ),
        (
            "TotpEnrollment",
            object(
                vec![
                    ("secret", string().description(Some("base32")).into()),
                    ("otpauth_uri", string().into()),
                    (
                        "qr_svg",
                        string()
                            .description(Some("the URI as an SVG QR code (feature `qr`)"))
                            .into(),
                    ),
                ],
                &["secret", "otpauth_uri"],
            )
            .into(),
        ),
        (
            "CodeRequest",
            object(vec![("code", totp_code().into())], &["code"]).into(),
        ),
        (
            "PresenceProof",
            object(
                vec![
                    ("password", password().into()),
                    ("code", totp_code().into()),
                    ("recovery_code", string().into()),
                ],
                &[],
            )
            .description(Some("one of `password`, `code` or `recovery_code`"))
            .into(),
        ),
        (
            "RecoveryCodes",
            object(
                vec![("recovery_codes", ArrayBuilder::new().items(string()).into())],
                &["recovery_codes"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "PasskeyCeremony",
            object(
                vec![
                    (
                        "options",
                        free_object()
                            .description(Some("for the WebAuthn API of the browser"))
                            .into(),
                    ),
                    (
                        "state",
                        string()
                            .description(Some("sealed; send it back unchanged, within 5 minutes"))
                            .into(),
                    ),
                ],
                &["options", "state"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "PasskeyRegistration",
            object(
                vec![
                    ("state", string().into()),
                    ("credential", free_object().into()),
                    ("name", nullable_string().into()),
                ],
                &["state", "credential"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "Passkey",
            object(
                vec![
                    ("id", uuid().into()),
                    ("name", nullable_string().into()),
                    ("created_at", time().into()),
                    (
                        "last_used_at",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                            .into(),
                    ),
                ],
                &["id", "name", "created_at", "last_used_at"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "PasskeyList",
            object(
                vec![(
                    "passkeys",
                    ArrayBuilder::new()
                        .items(Ref::from_schema_name("Passkey"))
                        .into(),
                )],
                &["passkeys"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "PasskeySignIn",
            object(
                vec![
                    ("email", email().into()),
                    ("state", string().into()),
                    ("credential", free_object().into()),
                ],
                &["email", "state", "credential"],
            )
            .into(),
        ),
        #[cfg(feature = "passkeys")]
        (
            "PendingLogin",
            object(vec![("mfa_token", string().into())], &["mfa_token"]).into(),
        ),
        #[cfg(feature = "oidc")]
        (
            "AuthorizationUrl",
            object(
                vec![("authorization_url", string().into())],
                &["authorization_url"],
            )
            .into(),
        ),
        #[cfg(feature = "oidc")]
        (
            "OAuthAccount",
            object(
                vec![
                    ("provider", string().into()),
                    ("email", nullable_string().into()),
                    ("email_verified", boolean().into()),
                    ("linked_at", time().into()),
                    ("last_used_at", time().into()),
                ],
                &[
                    "provider",
                    "email",
                    "email_verified",
                    "linked_at",
                    "last_used_at",
                ],
            )
            .into(),
        ),
        #[cfg(feature = "oidc")]
        (
            "OAuthAccountList",
            object(
                vec![
                    (
                        "accounts",
                        ArrayBuilder::new()
                            .items(Ref::from_schema_name("OAuthAccount"))
                            .into(),
                    ),
                    ("has_password", boolean().into()),
                ],
                &["accounts", "has_password"],
            )
            .into(),
        ),
        (
            "RefreshRequest",
            object(vec![("refresh_token", string().into())], &["refresh_token"]).into(),
        ),
        (
            "StoredSession",
            object(
                vec![
                    ("id", uuid().into()),
                    ("created_at", time().into()),
                    ("last_seen_at", time().into()),
                    ("expires_at", time().into()),
                    ("idle_expires_at", time().into()),
                    ("user_agent", nullable_string().into()),
                    ("client", nullable_string().into()),
                    (
                        "current",
                        boolean()
                            .description(Some("whether this request uses the session"))
                            .into(),
                    ),
                ],
                &[
                    "id",
                    "created_at",
                    "last_seen_at",
                    "expires_at",
                    "idle_expires_at",
                    "user_agent",
                    "client",
                    "current",
                ],
            )
            .description(Some(
                "A login session: where and when it started, when it ends",
            ))
            .into(),
        ),
        (
            "SessionList",
            object(
                vec![(
                    "sessions",
                    ArrayBuilder::new()
                        .items(Ref::from_schema_name("StoredSession"))
                        .into(),
                )],
                &["sessions"],
            )
            .into(),
        ),
        (
            "Ended",
            object(
                vec![(
                    "ended",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0))
                        .into(),
                )],
                &["ended"],
            )
            .into(),
        ),
        (
            "UserUpdate",
            with_profile::<U>(
                object(
                    vec![
                        ("email", email().into()),
                        ("password", new_password().into()),
                        ("current_password", password().into()),
                    ],
                    &[],
                )
                .description(Some(
                    "A new `password` or `email` goes with `current_password`; a new `email` \
                     stays pending (the verification token goes to it) until verified; members \
                     left out keep their values",
                )),
                false,
            ),
        ),
        (
            "AdminUserUpdate",
            with_profile::<U>(
                object(
                    vec![
                        ("email", email().into()),
                        ("is_active", boolean().into()),
                        ("is_verified", boolean().into()),
                    ],
                    &[],
                ),
                false,
            ),
        ),
        (
            "PasswordConfirmation",
            object(vec![("password", password().into())], &["password"]).into(),
        ),
        (
            "EmailRequest",
            object(vec![("email", email().into())], &["email"]).into(),
        ),
        (
            "TokenRequest",
            object(vec![("token", string().into())], &["token"]).into(),
        ),
        (
            "PasswordReset",
            object(
                vec![
                    ("token", string().into()),
                    ("password", new_password().into()),
                ],
                &["token", "password"],
            )
            .into(),
        ),
        (
            "RoleRequest",
            object(
                vec![
                    ("name", string().examples([json!("editor")]).into()),
                    ("description", nullable_string().into()),
                ],
                &["name"],
            )
            .into(),
        ),
        (
            "Role",
            object(
                vec![
                    ("id", uuid().into()),
                    ("name", string().into()),
                    ("description", nullable_string().into()),
                ],
                &["id", "name", "description"],
            )
            .into(),
        ),
        (
            "UserList",
            object(
                vec![
                    (
                        "users",
                        ArrayBuilder::new()
                            .items(Ref::from_schema_name("User"))
                            .into(),
                    ),
                    (
                        "next",
                        nullable_string()
                            .description(Some("the cursor of the next page"))
                            .into(),
                    ),
                ],
                &["users", "next"],
            )
            .into(),
        ),
        (
            "RoleList",
            ArrayBuilder::new()
                .items(Ref::from_schema_name("Role"))
                .into(),
        ),
        (
            "Message",
            object(vec![("message", string().into())], &["message"]).into(),
        ),
        ("Error", error.into()),
    ]
    .into_iter()
    .map(|(name, schema)| (name.to_owned(), schema))
    .collect::<Vec<_>>();
    // The schemas that the profile's own schema refers to.
    let mut nested = Vec::new();
    U::Fields::schemas(&mut nested);
    schemas.extend(nested);
    schemas
}

/// The members of `POST /auth/mfa`.
fn second_factor_members() -> Vec<(&'static str, RefOr<Schema>)> {
    #[allow(unused_mut)] // Only the `passkeys` feature adds to them.
    let mut members = vec![
        ("mfa_token", string().into()),
        ("code", totp_code().into()),
        ("recovery_code", string().into()),
    ];
    #[cfg(feature = "passkeys")]
    members.extend([
        ("passkey", free_object().into()),
        ("state", string().into()),
    ]);
    members
}
