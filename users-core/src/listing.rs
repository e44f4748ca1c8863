//! A page of users: what [`Users::list_users`](crate::Users::list_users) is asked for, what it
//! asks the store, and what it answers.

use uuid::Uuid;

use crate::{normalize_email, UsersError};

/// The most users one page holds.
pub const MAX_PAGE_SIZE: usize = 200;

/// Which users a page of [`Users::list_users`](crate::Users::list_users) holds: those after the
/// cursor, oldest first (ids are UUIDv7, so id order is creation order), that pass every filter
/// given.
///
/// ```
/// use users_core::UserQuery;
///
/// let query = UserQuery::new().limit(20).email_prefix("ali").active(true).role("admin");
/// assert_eq!(query.limit, 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserQuery {
    /// Only users whose id comes after this one: the `next` of the previous page.
    pub after: Option<Uuid>,
    /// How many users at most, 1 to [`MAX_PAGE_SIZE`] (50 by default).
    pub limit: usize,
    /// Only users whose (normalised) email address starts with this.
    pub email_prefix: Option<String>,
    /// Only active (`true`) or deactivated (`false`) users.
    pub is_active: Option<bool>,
    /// Only verified (`true`) or unverified (`false`) users.
    pub is_verified: Option<bool>,
    /// Only users with the role of this name.
    pub role: Option<String>,
}

impl Default for UserQuery {
    fn default() -> Self {
        UserQuery {
            after: None,
            limit: 50,
            email_prefix: None,
            is_active: None,
            is_verified: None,
            role: None,
        }
    }
}

impl UserQuery {
    /// The first page of every user, 50 at most.
    pub fn new() -> Self {
        UserQuery::default()
    }

    /// The page after the one whose `next` this is.
    pub fn after(mut self, cursor: Uuid) -> Self {
        self.after = Some(cursor);
        self
    }

    /// At most `limit` users.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Only users whose email address starts with `prefix`.
    pub fn email_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.email_prefix = Some(prefix.into());
        self
    }

    /// Only active (`true`) or deactivated (`false`) users.
    pub fn active(mut self, active: bool) -> Self {
        self.is_active = Some(active);
        self
    }

    /// Only verified (`true`) or unverified (`false`) users.
    pub fn verified(mut self, verified: bool) -> Self {
        self.is_verified = Some(verified);
        self
    }

    /// Only users with the role `name`.
    pub fn role(mut self, name: impl Into<String>) -> Self {
        self.role = Some(name.into());
        self
    }
}

/// A page of users, each with their roles (loaded for the whole page in one query).
#[derive(Clone, Debug, PartialEq)]
pub struct UserPage<U, R> {
    /// The users, oldest first, each with their roles by name.
    pub users: Vec<(U, Vec<R>)>,
    /// The cursor of the next page ([`UserQuery::after`]), or `None` if this is the last.
    pub next: Option<Uuid>,
}

/// What a store lists: a [`UserQuery`] checked and put in the store's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserListing {
    /// Only ids after this one.
    pub after: Option<Uuid>,
    /// A `LIKE` pattern for the email column, with `\` as its escape character.
    pub email_like: Option<String>,
    /// Only users with this `is_active`.
    pub is_active: Option<bool>,
    /// Only users with this `is_verified`.
    pub is_verified: Option<bool>,
    /// Only users with a row in the join table named first for the role id second.
    pub role: Option<(&'static str, Uuid)>,
    /// How many rows at most.
    pub limit: i64,
}

impl UserListing {
    /// The listing of `query`, one row over its limit (which tells whether a next page exists),
    /// for users with the role `role` (its join table and id) if the query names one.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for an email prefix with whitespace or control characters.
    pub(crate) fn new(
        query: &UserQuery,
        role: Option<(&'static str, Uuid)>,
    ) -> Result<UserListing, UsersError> {
        let email_like = match query.email_prefix.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(prefix) => Some(format!("{}%", escape_like(&prefix_for_lookup(prefix)?))),
        };
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        Ok(UserListing {
            after: query.after,
            email_like,
            is_active: query.is_active,
            is_verified: query.is_verified,
            role,
            limit: i64::try_from(limit + 1).unwrap_or(i64::MAX),
        })
    }
}

/// An email prefix as stored addresses are: lowercased, checked like an address's characters.
fn prefix_for_lookup(prefix: &str) -> Result<String, UsersError> {
    if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UsersError::InvalidEmail(crate::EmailProblem::BadPrefix));
    }
    // A whole address normalises as registration does; a prefix is lowercased the same way.
    Ok(normalize_email(prefix).unwrap_or_else(|_| prefix.to_lowercase()))
}

/// `text` with the `LIKE` wildcards and the escape character escaped by `\`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Cuts `rows` (the store's answer, up to one over the page) to the page, and tells the cursor
/// of the next page if the store had more.
pub(crate) fn page_of<T>(
    mut rows: Vec<T>,
    listing: &UserListing,
    id: impl Fn(&T) -> Uuid,
) -> (Vec<T>, Option<Uuid>) {
    let page = usize::try_from(listing.limit - 1).unwrap_or(usize::MAX);
    if rows.len() <= page {
        return (rows, None);
    }
    rows.truncate(page);
    let next = rows.last().map(id);
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_lowercased_and_its_wildcards_escaped() {
        let query = UserQuery::new().email_prefix(" Al_i%\\ ");
        let listing = UserListing::new(&query, None).unwrap();
        assert_eq!(listing.email_like.as_deref(), Some("al\\_i\\%\\\\%"));
        assert!(UserListing::new(&UserQuery::new().email_prefix("a b"), None).is_err());
    }

    #[test]
    fn the_limit_is_clamped_and_one_more_row_is_asked_for() {
        let listing = |limit| UserListing::new(&UserQuery::new().limit(limit), None).unwrap();
        assert_eq!(listing(0).limit, 2);
        assert_eq!(listing(10).limit, 11);
        assert_eq!(listing(10_000).limit, (MAX_PAGE_SIZE + 1) as i64);
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_exist() {
        let listing = UserListing::new(&UserQuery::new().limit(2), None).unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let (page, next) = page_of(ids.clone(), &listing, |id| *id);
        assert_eq!((page.len(), next), (2, Some(ids[1])));
        let (page, next) = page_of(ids[..2].to_vec(), &listing, |id| *id);
        assert_eq!((page.len(), next), (2, None));
    }
}
