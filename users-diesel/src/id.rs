//! The typed id every model gets: a UUID that knows which model it belongs to.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
use std::str::FromStr;

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use uuid::Uuid;

use crate::sql_types;

/// The id of a `T`: a UUID (version 7 when the framework makes it), typed so that a role id can
/// never be passed where a user id is expected.
///
/// It is `Copy`, compares and hashes as its UUID, prints as the hyphenated UUID, parses from one,
/// and `Deref`s to [`Uuid`]. In Diesel it binds to the portable
/// [`sql_types::Uuid`], so it works in `find`, `eq`, `eq_any`, `belonging_to` and as the type of a
/// foreign key column in the application's own tables. It also binds to the types
/// `diesel print-schema` prints for those columns (`Binary`, and `Uuid` on PostgreSQL), so a
/// model can use a printed schema with `schema = …`.
///
/// ```
/// use users_diesel::Id;
///
/// struct Invoice;
/// let id = Id::<Invoice>::new();
/// let parsed: Id<Invoice> = id.to_string().parse().unwrap();
/// assert_eq!(parsed, id);
/// assert_eq!(id.get_version_num(), 7);
/// ```
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = sql_types::Uuid)]
#[diesel(sql_type = diesel::sql_types::Binary)]
#[cfg_attr(feature = "postgres", diesel(sql_type = diesel::sql_types::Uuid))]
pub struct Id<T> {
    uuid: Uuid,
    // `fn() -> T` keeps `Id<T>` `Send`, `Sync` and `Copy` whatever `T` is.
    model: PhantomData<fn() -> T>,
}

impl<T> Id<T> {
    /// A new, time-ordered UUIDv7 id.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    /// The id with this UUID.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Id {
            uuid,
            model: PhantomData,
        }
    }

    /// The UUID inside.
    pub const fn uuid(self) -> Uuid {
        self.uuid
    }
}

impl<T> Default for Id<T> {
    /// A new UUIDv7 id, like [`Id::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Id<T> {}

impl<T> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<T> Eq for Id<T> {}

impl<T> PartialOrd for Id<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Id<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.uuid.cmp(&other.uuid)
    }
}

impl<T> Hash for Id<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.uuid, f)
    }
}

impl<T> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

impl<T> FromStr for Id<T> {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::from_str(s).map(Self::from_uuid)
    }
}

impl<T> Deref for Id<T> {
    type Target = Uuid;

    fn deref(&self) -> &Uuid {
        &self.uuid
    }
}

impl<T> From<Uuid> for Id<T> {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}

impl<T> From<Id<T>> for Uuid {
    fn from(id: Id<T>) -> Self {
        id.uuid
    }
}

#[cfg(feature = "serde")]
impl<T> serde::Serialize for Id<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.uuid.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de, T> serde::Deserialize<'de> for Id<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;

    #[test]
    fn new_ids_are_time_ordered_v7() {
        let first = Id::<A>::new();
        let second = Id::<A>::new();
        assert_eq!(first.get_version_num(), 7);
        assert!(first < second);
    }

    #[test]
    fn converts_to_and_from_uuid() {
        let uuid = Uuid::now_v7();
        let id: Id<B> = uuid.into();
        assert_eq!(Uuid::from(id), uuid);
        assert_eq!(*id, uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert!("not a uuid".parse::<Id<B>>().is_err());
    }
}
