//! What the routes show of a user and let its owner change: the [`Profile`] trait, the JSON
//! user view, and the merge of a request's fields into a user's.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use users_diesel::{UserModel, Uuid};
use utoipa::ToSchema;

use crate::pooled::Edit;
use crate::ApiError;

/// The custom fields of a user model that its user may read and write over HTTP.
///
/// `GET /users/me` shows them next to `id`, `email`, `is_active`, `is_verified` and `roles`;
/// `POST /auth/register` and `PATCH /users/me` accept them as top-level JSON members, merged
/// over the current values (members left out keep theirs; `null` clears an `Option`). Fields
/// that are not in [`Profile::Fields`] (say a balance or an internal flag) can be neither
/// seen nor set by the user.
///
/// `Fields` must serialize as a JSON object listing every field (no
/// `skip_serializing_if`), and must not use the names `id`, `email`, `password`,
/// `current_password`, `is_active`, `is_verified`, `roles` or `session`.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use users_axum::Profile;
/// use users_diesel::prelude::*;
///
/// #[user_model]
/// pub struct User {
///     pub display_name: Option<String>,
///     #[column(default = 0)]
///     pub credits: i64, // not part of the profile: the user can't set it
/// }
///
/// #[derive(Serialize, Deserialize, utoipa::ToSchema)]
/// pub struct UserProfile {
///     display_name: Option<String>,
/// }
///
/// impl Profile for User {
///     type Fields = UserProfile;
///
///     fn profile(&self) -> UserProfile {
///         UserProfile { display_name: self.display_name.clone() }
///     }
///
///     fn set_profile(&mut self, fields: UserProfile) {
///         self.display_name = fields.display_name;
///     }
/// }
/// ```
pub trait Profile: UserModel {
    /// The user-editable fields, as one serde type.
    type Fields: Serialize + DeserializeOwned + ToSchema + Send + 'static;

    /// The user's current values of the fields.
    fn profile(&self) -> Self::Fields;

    /// Sets the fields on the user.
    fn set_profile(&mut self, fields: Self::Fields);
}

/// The [`Profile::Fields`] of a user model with no user-editable fields:
/// `impl Profile for User { type Fields = NoProfile; … }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NoProfile {}

/// The members of the JSON user view that are not the profile's.
const BASE_MEMBERS: [&str; 5] = ["id", "email", "is_active", "is_verified", "roles"];

/// The JSON the routes answer with for a user: the base members, then the profile's.
pub(crate) fn user_view<U: Profile>(user: &U, roles: Vec<String>) -> Result<Value, ApiError> {
    let mut view = profile_object(user)?;
    let id: Uuid = user.id().into();
    let base = [
        Value::String(id.to_string()),
        Value::String(user.email().to_owned()),
        Value::Bool(user.is_active()),
        Value::Bool(user.is_verified()),
        Value::from(roles),
    ];
    for (name, value) in BASE_MEMBERS.into_iter().zip(base) {
        view.insert(name.to_owned(), value);
    }
    Ok(Value::Object(view))
}

/// The profile of `user` with `changes` merged over it, checked by deserializing it.
///
/// # Errors
///
/// 422 `invalid_field` for a member that is not a profile field, or a value of the wrong type.
pub(crate) fn merged_profile<U: Profile>(
    user: &U,
    changes: Map<String, Value>,
) -> Result<U::Fields, ApiError> {
    let mut profile = profile_object(user)?;
    for (name, value) in changes {
        if !profile.contains_key(&name) {
            return Err(ApiError::invalid_field(
                name.clone(),
                format!("unknown field `{name}`"),
            ));
        }
        profile.insert(name, value);
    }
    serde_path_to_error::deserialize(Value::Object(profile)).map_err(|error| {
        let field = error.path().to_string();
        ApiError::invalid_field(field, format!("invalid field: {}", error.into_inner()))
    })
}

fn profile_object<U: Profile>(user: &U) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(user.profile()) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::logged(
            &"Profile::Fields must serialize as a JSON object",
        )),
        Err(error) => Err(ApiError::logged(&error)),
    }
}

/// Takes the string member `name` out of a JSON object.
pub(crate) fn take_string(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ApiError> {
    match body.remove(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(ApiError::invalid_field(
            name.to_owned(),
            format!("invalid field: `{name}` must be a string"),
        )),
    }
}

/// Takes the required string member `name` out of a JSON object.
pub(crate) fn require_string(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<String, ApiError> {
    take_string(body, name)?
        .ok_or_else(|| ApiError::invalid_field(name.to_owned(), format!("missing field `{name}`")))
}

/// Takes the boolean member `name` out of a JSON object.
pub(crate) fn take_bool(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<bool>, ApiError> {
    match body.remove(name) {
        None => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(value)),
        Some(_) => Err(ApiError::invalid_field(
            name.to_owned(),
            format!("invalid field: `{name}` must be a boolean"),
        )),
    }
}

/// The change to the user's row that the profile fields of `changes` ask for, if any. The
/// fields are checked here against the loaded user, so that a bad one is a 400, and merged
/// again over the row as it is inside the transaction.
pub(crate) fn profile_edit<U: Profile>(
    loaded: &U,
    changes: Map<String, Value>,
) -> Result<Option<Edit<'static, U>>, ApiError> {
    if changes.is_empty() {
        return Ok(None);
    }
    merged_profile(loaded, changes.clone())?;
    Ok(Some(Box::new(move |user: &mut U| {
        // Checked above: only a field that no longer deserializes could fail here.
        let fields = merged_profile(user, changes).map_err(users_diesel::UsersError::database)?;
        user.set_profile(fields);
        Ok(())
    })))
}
