//! The OpenAPI 3.1 document of the router, built with utoipa from the router's own route list
//! and the application's [`Profile::Fields`] schema.

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use crate::api::{Admin, Anyone, Doc, Get, Method};
use crate::schema::{
    boolean, email, named, new_password, nullable_string, object, password, string, uuid,
};
use crate::{ErrorCode as Code, Profile, UsersState};

/// The OpenAPI 3.1 document of [`router`](crate::router) for the user model `U`: every route
/// with its request and answer bodies (the profile fields of `U` included), each refusal by
/// status with its codes, the bearer security scheme and examples.
///
/// Merge it with an application's own document with [`OpenApi::merge`]; the router serves it
/// (with the cookie scheme, if sessions use a cookie) where
/// [`UsersState::openapi_json`](crate::UsersState::openapi_json) says.
pub fn openapi<U: Profile>() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in crate::routes::endpoints::<U>() {
        let route = route.doc;
        paths = paths.path(
            route.path,
            PathItem::new(route.method.openapi(), operation(&route)),
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

impl<U: Profile> UsersState<U> {
    /// The OpenAPI document of the router over this state: [`openapi`](crate::openapi), plus
    /// the session cookie as a security scheme if sessions use one, and the document's own
    /// route if it is served.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        let document = openapi::<U>();
        served(document, self.cookie(), self.openapi_path())
    }
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

fn operation(route: &Doc) -> utoipa::openapi::path::Operation {
    let mut operation = OperationBuilder::new()
        .operation_id(Some(operation_id(route.method, route.path)))
        .summary(Some(route.summary))
        .tag(if route.path.starts_with("/auth") {
            "auth"
        } else if route.access == Admin {
            "admin"
        } else {
            "users"
        });
    for parameter in parameters(route) {
        operation = operation.parameter(parameter);
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

    operation.responses(responses(route)).build()
}

/// A route's parameters: those of its path, the provider callback's query and the user list's.
fn parameters(route: &Doc) -> Vec<ParameterBuilder> {
    let mut parameters = Vec::new();
    for name in path_parameters(route.path) {
        let schema = if name.ends_with("_id") {
            string().format(Some(SchemaFormat::Custom("uuid".to_owned())))
        } else {
            string()
        };
        parameters.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    let query = |name: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
    };
    if let Some(listed) = route.query {
        for (name, schema, description) in listed() {
            parameters.push(
                query(name)
                    .description(Some(description))
                    .schema(Some(schema)),
            );
        }
    }
    parameters
}

/// A route's answers: its success and each refusal by status.
fn responses(route: &Doc) -> utoipa::openapi::Responses {
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
    responses.build()
}

/// `post_auth_register`, `get_users_user_id`: the method and the path's words.
fn operation_id(method: Method, path: &str) -> String {
    let words = path
        .split(['/', '-', '{', '}'])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    format!("{}_{words}", method.as_str().to_lowercase())
}

/// The `{name}`s of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// Every refusal of a route, by status: its own and those of what it takes.
fn refusals(route: &Doc) -> BTreeMap<u16, Vec<Code>> {
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

/// Every schema the document names: the user-shaped ones (they hold the profile's fields),
/// each area's typed ones, and those the profile's own schema refers to.
fn schemas<U: Profile>() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = user_schemas::<U>();
    schemas.extend(update_schemas::<U>());
    schemas.extend(crate::factors::schemas());
    schemas.extend(crate::routes::schemas());
    #[cfg(feature = "passkeys")]
    schemas.extend(crate::passkeys::schemas());
    #[cfg(feature = "oidc")]
    schemas.extend(crate::oauth::schemas());
    U::Fields::schemas(&mut schemas);
    schemas
}

/// The user as the routes answer it: the account's members, then the profile's fields.
fn user_object() -> ObjectBuilder {
    let roles = ArrayBuilder::new()
        .items(string())
        .examples([json!(["admin"])]);
    object(
        vec![
            ("id", uuid().into()),
            ("email", email().into()),
            ("is_active", boolean().into()),
            ("is_verified", boolean().into()),
            ("roles", roles.into()),
            ("session", Ref::from_schema_name("Session").into()),
            ("sign_ins", Ref::from_schema_name("SignIns").into()),
        ],
        &["id", "email", "is_active", "is_verified", "roles"],
    )
    .description(Some(
        "A user: the account's members, then the profile fields",
    ))
}

/// The user, registration, a login's answer and the lists.
fn user_schemas<U: Profile>() -> Vec<(String, RefOr<Schema>)> {
    named(vec![
        ("User", with_profile::<U>(user_object(), true)),
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
            "LoginAnswer",
            RefOr::T(Schema::OneOf(
                utoipa::openapi::schema::OneOfBuilder::new()
                    .item(Ref::from_schema_name("Session"))
                    .item(Ref::from_schema_name("SecondFactorRequired"))
                    .build(),
            )),
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
    ])
}

/// The changes to a user: the user's own and an administrator's.
fn update_schemas<U: Profile>() -> Vec<(String, RefOr<Schema>)> {
    named(vec![
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
    ])
}
