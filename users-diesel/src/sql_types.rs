//! Portable SQL types: one Diesel type, the natural storage on each backend.
//!
//! | type | PostgreSQL | SQLite | MySQL / MariaDB |
//! |---|---|---|---|
//! | [`Uuid`] | `UUID` | 16-byte `BLOB` | `BINARY(16)` |
//!
//! Every backend-specific line of the mapping lives in this file. [`Id<T>`](crate::Id) also
//! reads and writes the same bytes as `Binary` on every backend and as PostgreSQL's own `Uuid`,
//! the types `diesel print-schema` prints for these columns.

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Binary, SqlType};

use crate::Id;

/// A UUID, stored natively where the backend can and as 16 bytes elsewhere.
///
/// [`Id<T>`](crate::Id) binds to it; in a `table!` write `id -> users_diesel::sql_types::Uuid`.
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Binary"))]
#[diesel(mysql_type(name = "Blob"))]
pub struct Uuid;

/// `Id<T>` as `$sql` on `$backend`, spelled exactly as the portable [`Uuid`] is.
macro_rules! same_as_uuid {
    ($sql:ty, $backend:ty, $value:ty) => {
        impl<T> ToSql<$sql, $backend> for Id<T> {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                <Self as ToSql<Uuid, $backend>>::to_sql(self, out)
            }
        }

        impl<T> FromSql<$sql, $backend> for Id<T> {
            fn from_sql(value: $value) -> deserialize::Result<Self> {
                <Self as FromSql<Uuid, $backend>>::from_sql(value)
            }
        }
    };
}

fn uuid_from_bytes(bytes: &[u8]) -> deserialize::Result<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes)
        .map_err(|_| format!("expected a 16-byte UUID, got {} bytes", bytes.len()).into())
}

#[cfg(feature = "postgres")]
mod pg {
    use std::io::Write;

    use diesel::pg::{Pg, PgValue};
    use diesel::serialize::IsNull;

    use super::*;

    impl<T> ToSql<Uuid, Pg> for Id<T> {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            out.write_all(self.as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl<T> FromSql<Uuid, Pg> for Id<T> {
        fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.as_bytes()).map(Id::from_uuid)
        }
    }

    same_as_uuid!(Binary, Pg, PgValue<'_>);
    same_as_uuid!(diesel::sql_types::Uuid, Pg, PgValue<'_>);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use diesel::serialize::IsNull;
    use diesel::sqlite::{Sqlite, SqliteValue};

    use super::*;

    impl<T> ToSql<Uuid, Sqlite> for Id<T> {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(self.as_bytes().as_slice());
            Ok(IsNull::No)
        }
    }

    impl<T> FromSql<Uuid, Sqlite> for Id<T> {
        fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.read_blob()).map(Id::from_uuid)
        }
    }

    same_as_uuid!(Binary, Sqlite, SqliteValue<'_, '_, '_>);
}

#[cfg(feature = "mysql")]
mod mysql {
    use std::io::Write;

    use diesel::mysql::{Mysql, MysqlValue};
    use diesel::serialize::IsNull;

    use super::*;

    impl<T> ToSql<Uuid, Mysql> for Id<T> {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            out.write_all(self.as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl<T> FromSql<Uuid, Mysql> for Id<T> {
        fn from_sql(value: MysqlValue<'_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.as_bytes()).map(Id::from_uuid)
        }
    }

    same_as_uuid!(Binary, Mysql, MysqlValue<'_>);

    // MySQL's DATETIME has no time zone: the column holds UTC by contract.
}
