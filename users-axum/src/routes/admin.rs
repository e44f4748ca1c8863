//! User and role administration, for the administrators' role.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use users_diesel::{UserModel, UserQuery, UsersError, MAX_PAGE_SIZE};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::ToSchema;

use crate::answer::{answer_user, parse_user_id, parse_uuid};
use crate::api::{endpoint, route, Admin, Delete, Doc, Endpoint, Get, Patch, Post, QueryParameter};
use crate::error::PathParams;
use crate::pooled::{Edit, RoleView};
use crate::profile::{profile_edit, take_bool, take_string, user_view};
use crate::schema::{boolean, string, uuid};
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    vec![crate::schema::typed::<RoleBody>()]
}

/// The routes of user and role administration, each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(list_users::<U>, LIST_USERS),
        endpoint(user_by_id::<U>, USER_BY_ID),
        endpoint(update_user::<U>, UPDATE_USER),
        endpoint(delete_user::<U>, DELETE_USER),
        endpoint(all_roles::<U>, ALL_ROLES),
        endpoint(create_role::<U>, CREATE_ROLE),
        endpoint(delete_role::<U>, DELETE_ROLE),
        endpoint(assign_role::<U>, ASSIGN_ROLE),
        endpoint(revoke_role::<U>, REVOKE_ROLE),
    ]
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RoleRequest)]
pub(crate) struct RoleBody {
    #[schema(schema_with = role_name)]
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// A role's name.
fn role_name() -> ObjectBuilder {
    string().examples([json!("editor")])
}

/// The route of [`create_role`].
const CREATE_ROLE: Doc = route(
    Post,
    "/roles",
    "Create a role",
    Admin,
    Some("RoleRequest"),
    (201, "the new role", Some("Role")),
    &[
        (409, &[ErrorCode::RoleExists]),
        (422, &[ErrorCode::InvalidRoleName]),
    ],
);

async fn create_role<U: Profile>(
    State(users): State<UsersState<U>>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Response, ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "name",
            "the role name must not be empty",
        ));
    }
    let role = users
        .pooled()
        .create_role(&body.name, body.description.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(role)).into_response())
}

/// The route of [`assign_role`].
const ASSIGN_ROLE: Doc = route(
    Post,
    "/roles/{name}/users/{user_id}",
    "Give a user a role (again: no change)",
    Admin,
    None,
    (204, "the user has the role", None),
    &[(404, &[ErrorCode::UserNotFound, ErrorCode::RoleNotFound])],
);

async fn assign_role<U: Profile>(
    State(users): State<UsersState<U>>,
    admin: CurrentUser<U>,
    PathParams((name, user_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_role(&users, &admin, &name, &user_id, true).await
}

/// The route of [`revoke_role`].
const REVOKE_ROLE: Doc = route(
    Delete,
    "/roles/{name}/users/{user_id}",
    "Take a role from a user (not the administrators' role from the last active \
         administrator)",
    Admin,
    None,
    (204, "the user lacks the role", None),
    &[
        (404, &[ErrorCode::UserNotFound, ErrorCode::RoleNotFound]),
        (409, &[ErrorCode::LastAdmin]),
    ],
);

async fn revoke_role<U: Profile>(
    State(users): State<UsersState<U>>,
    admin: CurrentUser<U>,
    PathParams((name, user_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_role(&users, &admin, &name, &user_id, false).await
}

async fn set_role<U: UserModel>(
    users: &UsersState<U>,
    admin: &CurrentUser<U>,
    name: &str,
    user_id: &str,
    assign: bool,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id::<U>(user_id)?;
    if !assign && is_admin_role(users, name) {
        keep_an_admin(users, id).await?;
    }
    acting(users, admin).set_role(name, id, assign).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The operations on behalf of the administrator `admin`: the events they record name them.
pub(crate) fn acting<U: UserModel>(
    users: &UsersState<U>,
    admin: &CurrentUser<U>,
) -> std::sync::Arc<dyn crate::pooled::PooledUsers<U>> {
    users.pooled().acting_for(admin.user.id().into())
}

/// The route of [`delete_role`].
const DELETE_ROLE: Doc = route(
    Delete,
    "/roles/{name}",
    "Delete a role and its assignments (not the administrators' role)",
    Admin,
    None,
    (204, "the role is deleted", None),
    &[
        (404, &[ErrorCode::RoleNotFound]),
        (409, &[ErrorCode::LastAdmin]),
    ],
);

async fn delete_role<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    if is_admin_role(&users, &name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LastAdmin,
            "the administrators' role cannot be deleted",
        ));
    }
    users.pooled().delete_role(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `name` names the role that administers ([`UsersState::admin_role`]).
fn is_admin_role<U: UserModel>(users: &UsersState<U>, name: &str) -> bool {
    users_diesel::normalize_role_name(name).is_ok_and(|name| name == users.admin())
}

/// Refuses (409 `last_admin`) a change that would leave no active administrator: user `id`
/// losing the administrators' role, being deactivated or deleted while the only one.
pub(crate) async fn keep_an_admin<U: UserModel>(
    users: &UsersState<U>,
    id: U::Id,
) -> Result<(), ApiError> {
    if users.pooled().sole_holder(users.admin(), id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LastAdmin,
            "this is the last active administrator: make another one first",
        ));
    }
    Ok(())
}

/// The route of [`user_by_id`].
const USER_BY_ID: Doc = route(
    Get,
    "/users/{user_id}",
    "A user, with their roles",
    Admin,
    None,
    (200, "the user", Some("User")),
    &[(404, &[ErrorCode::UserNotFound])],
);

async fn user_by_id<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let user = users
        .pooled()
        .get(parse_user_id::<U>(&id)?)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    answer_user(&users, &user).await
}

/// The route of [`update_user`].
const UPDATE_USER: Doc = route(
    Patch,
    "/users/{user_id}",
    "Change a user's email, flags or profile; a deactivated user's sessions end at once",
    Admin,
    Some("AdminUserUpdate"),
    (200, "the user", Some("User")),
    &[
        (404, &[ErrorCode::UserNotFound]),
        (
            409,
            &[
                ErrorCode::EmailTaken,
                ErrorCode::Conflict,
                ErrorCode::LastAdmin,
            ],
        ),
        (422, &[ErrorCode::InvalidEmail]),
    ],
);

/// An administrator's change to a user: the profile fields, `email`, `is_active` and
/// `is_verified`. A deactivated user's sessions are refused from the next request on, since
/// every request loads the user.
async fn update_user<U: Profile>(
    State(users): State<UsersState<U>>,
    admin: CurrentUser<U>,
    PathParams(id): PathParams<String>,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_user_id::<U>(&id)?;
    let loaded = users
        .pooled()
        .get(id)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    let email = take_string(&mut body, "email")?;
    let active = take_bool(&mut body, "is_active")?;
    let verified = take_bool(&mut body, "is_verified")?;
    if active == Some(false) {
        keep_an_admin(&users, id).await?;
    }
    let profile = profile_edit(&loaded, body)?;
    let edit: Edit<'static, U> = Box::new(move |user: &mut U| {
        if let Some(profile) = profile {
            profile(user)?;
        }
        if let Some(active) = active {
            user.set_active(active);
        }
        if let Some(verified) = verified {
            user.set_verified(verified);
        }
        Ok(())
    });
    let user = acting(&users, &admin)
        .edit(&loaded, Some(edit), None, email.as_deref())
        .await?;
    answer_user(&users, &user).await
}

/// The route of [`delete_user`].
const DELETE_USER: Doc = route(
    Delete,
    "/users/{user_id}",
    "Delete a user (not the last active administrator)",
    Admin,
    None,
    (204, "the user is deleted", None),
    &[
        (404, &[ErrorCode::UserNotFound]),
        (409, &[ErrorCode::LastAdmin]),
    ],
);

async fn delete_user<U: Profile>(
    State(users): State<UsersState<U>>,
    admin: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id::<U>(&id)?;
    keep_an_admin(&users, id).await?;
    acting(&users, &admin).delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The route of [`all_roles`].
const ALL_ROLES: Doc = route(
    Get,
    "/roles",
    "Every role, by name",
    Admin,
    None,
    (200, "the roles", Some("RoleList")),
    &[],
);

async fn all_roles<U: Profile>(
    State(users): State<UsersState<U>>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    Ok(Json(users.pooled().all_roles().await?))
}

/// The query of `GET /users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
    email: Option<String>,
    is_active: Option<bool>,
    is_verified: Option<bool>,
    role: Option<String>,
}

/// The route of [`list_users`].
const LIST_USERS: Doc = route(
    Get,
    "/users",
    "A page of users, oldest first, with filters; `next` is the cursor of the page after",
    Admin,
    None,
    (200, "the page", Some("UserList")),
    &[
        (404, &[ErrorCode::RoleNotFound]),
        (422, &[ErrorCode::InvalidEmail, ErrorCode::InvalidField]),
    ],
)
.with_query(list_parameters);

async fn list_users<U: Profile>(
    State(users): State<UsersState<U>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(query.as_deref().unwrap_or(""))?;
    let (page, next) = users.pooled().list_users(&query).await?;
    let views = page
        .into_iter()
        .map(|(user, roles)| user_view(&user, roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        json!({ "users": views, "next": next.map(|id| id.to_string()) }),
    ))
}

/// The [`UserQuery`] of a `GET /users` query string; a bad parameter is 422 `invalid_field`.
fn parse_query(text: &str) -> Result<UserQuery, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
    let query: ListQuery = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = crate::error::quoted_member(&message).map_or(field, str::to_owned);
        ApiError::invalid_field(field, format!("invalid query parameter: {message}"))
    })?;
    let after = match query.after {
        Some(cursor) => Some(parse_uuid(&cursor).ok_or_else(|| {
            ApiError::invalid_field("after", "invalid query parameter: `after` must be a UUID")
        })?),
        None => None,
    };
    let limit = query.limit.unwrap_or(UserQuery::default().limit);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("invalid query parameter: `limit` must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(UserQuery {
        after,
        limit,
        email_prefix: query.email,
        is_active: query.is_active,
        is_verified: query.is_verified,
        role: query.role,
    })
}

/// The query parameters of `GET /users`.
fn list_parameters() -> Vec<QueryParameter> {
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
