//! Portable SQL types: one Diesel type, the natural storage on each backend.
//!
//! | type | Rust | PostgreSQL | SQLite | MySQL / MariaDB |
//! |---|---|---|---|---|
//! | [`Uuid`] | `Id<T>`, `uuid::Uuid` | `UUID` | 16-byte `BLOB` | `BINARY(16)` |
//! | [`Timestamptz`] | `chrono::DateTime<Utc>` | `TIMESTAMPTZ` | ISO 8601 `TEXT` | `DATETIME(6)` in UTC |
//! | [`Json`] | `serde_json::Value` | `JSONB` | `TEXT` | `JSON` |
//! | [`Numeric`] | `bigdecimal::BigDecimal` | `NUMERIC(p, s)` | decimal `TEXT` | `DECIMAL(p, s)` |
//!
//! Every backend-specific line of the mapping lives in this file. [`Id<T>`](crate::Id) also
//! reads and writes the same bytes as `Binary` on every backend and as PostgreSQL's own `Uuid`,
//! the types `diesel print-schema` prints for these columns.
//!
//! The Rust types other than `Id<T>` belong to other crates, and Diesel's blanket impls keep
//! any crate but Diesel from binding them to a new SQL type (`AsExpression`). The generated
//! models therefore bind those fields through [`Portable`] (Diesel's `serialize_as` and
//! `deserialize_as`), which Diesel supports for owned values: insert and update such a model by
//! value (`.values(user.clone())`, `.set(user.clone())`) in hand-written Diesel code, and compare
//! such a column with a value wrapped in [`Portable`]: `users::seen_at.gt(Portable(since))`.

use std::fmt;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::internal::derives::as_expression::Bound;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Binary, Nullable, SingleValue, SqlType};

use crate::Id;

/// A UUID, stored natively where the backend can and as 16 bytes elsewhere.
///
/// [`Id<T>`](crate::Id) binds to it; in a `table!` write `id -> users_diesel::sql_types::Uuid`.
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Binary"))]
#[diesel(mysql_type(name = "Blob"))]
pub struct Uuid;

/// A point in time in UTC, `chrono::DateTime<Utc>`: PostgreSQL's `TIMESTAMPTZ`, SQLite text as
/// Diesel's `TimestamptzSqlite` writes it (`2024-05-01 12:00:00.123456+00:00`), and MySQL's
/// `DATETIME(6)` holding UTC (MySQL's `TIMESTAMP` would convert through the session time zone).
/// PostgreSQL and MySQL keep microseconds.
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
#[diesel(mysql_type(name = "DateTime"))]
pub struct Timestamptz;

/// A JSON document, `serde_json::Value`: PostgreSQL's `JSONB`, MySQL's `JSON` (MariaDB's
/// `LONGTEXT` with a `json_valid` check), SQLite text.
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
#[diesel(mysql_type(name = "String"))]
pub struct Json;

/// An exact decimal number, `bigdecimal::BigDecimal`: `NUMERIC(p, s)` on PostgreSQL,
/// `DECIMAL(p, s)` on MySQL, and its decimal text on SQLite, which has no exact decimal type
/// (Diesel's own `Numeric` goes through a `f64` there).
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 1700, array_oid = 1231))]
#[diesel(sqlite_type(name = "Text"))]
#[diesel(mysql_type(name = "Numeric"))]
pub struct Numeric;

/// Arithmetic in queries, as Diesel's `table!` expects of columns of these names: an interval
/// added to or taken from a point in time, and decimals with decimals.
macro_rules! arithmetic {
    ($sql:ty, $rhs:ty: $($op:ident),*) => {$(
        impl diesel::sql_types::ops::$op for $sql {
            type Rhs = $rhs;
            type Output = $sql;
        }
    )*};
}

arithmetic!(Timestamptz, diesel::sql_types::Interval: Add, Sub);
arithmetic!(Numeric, Numeric: Add, Sub, Mul, Div);

/// Points in time, decimals and UUIDs have an order on every backend, so `max` and `min` take
/// them (as Diesel's own `Timestamptz`, `Numeric` and `Uuid`); the result loads as
/// `Option<Portable<T>>`.
impl diesel::sql_types::SqlOrd for Timestamptz {}
impl diesel::sql_types::SqlOrd for Numeric {}
impl diesel::sql_types::SqlOrd for Uuid {}

/// A value of another crate's type as an expression of one of the portable SQL types: what a
/// mapped column compares with in hand-written Diesel (`users::seen_at.gt(Portable(since))`,
/// `users::external_id.eq_any([Portable(a), Portable(b)])`), and the `serialize_as` and
/// `deserialize_as` type of the generated models. Diesel's blanket `AsExpression` impl keeps any
/// other crate from making `DateTime<Utc>` itself such an expression (Rust's coherence rules).
#[derive(Debug)]
pub struct Portable<T>(pub T);

impl<T> From<T> for Portable<T> {
    fn from(value: T) -> Self {
        Portable(value)
    }
}

impl<T, ST, DB> ToSql<ST, DB> for Portable<T>
where
    T: ToSql<ST, DB> + fmt::Debug,
    DB: Backend,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.to_sql(out)
    }
}

impl<T, ST, DB> FromSql<ST, DB> for Portable<T>
where
    T: FromSql<ST, DB>,
    DB: Backend,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        T::from_sql(bytes).map(Portable)
    }

    fn from_nullable_sql(bytes: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        T::from_nullable_sql(bytes).map(Portable)
    }
}

impl<T, ST, DB> Queryable<ST, DB> for Portable<T>
where
    DB: Backend,
    ST: SingleValue,
    Self: FromSql<ST, DB>,
{
    type Row = Self;

    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

/// [`Portable`] binds as `$sql` and as its nullable form; which values it can carry is decided
/// by the `ToSql` impls of the value inside.
macro_rules! binds_as {
    ($($sql:ty),*) => {$(
        impl<T> AsExpression<$sql> for Portable<T> {
            type Expression = Bound<$sql, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl<T> AsExpression<Nullable<$sql>> for Portable<T> {
            type Expression = Bound<Nullable<$sql>, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }
    )*};
}

binds_as!(Uuid, Timestamptz, Json, Numeric);

/// The field's value back out of [`Portable`], for each type that goes through it.
macro_rules! unwraps_to {
    ($($ty:ty),*) => {$(
        impl From<Portable<$ty>> for $ty {
            fn from(value: Portable<$ty>) -> Self {
                value.0
            }
        }

        impl From<Portable<Option<$ty>>> for Option<$ty> {
            fn from(value: Portable<Option<$ty>>) -> Self {
                value.0
            }
        }
    )*};
}

unwraps_to!(
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>,
    serde_json::Value,
    bigdecimal::BigDecimal
);

/// `$ty` as our `$ours` on `$backend`, spelled exactly as Diesel spells it as `$theirs`.
macro_rules! same_as_diesel {
    ($ty:ty, $ours:ty, $theirs:ty, $backend:ty, $value:ty) => {
        impl ToSql<$ours, $backend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                <Self as ToSql<$theirs, $backend>>::to_sql(self, out)
            }
        }

        impl FromSql<$ours, $backend> for $ty {
            fn from_sql(value: $value) -> deserialize::Result<Self> {
                <Self as FromSql<$theirs, $backend>>::from_sql(value)
            }
        }
    };
}

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

/// `Id<T>` as the portable [`Uuid`] on `$backend`: the bytes of its UUID.
macro_rules! id_as_uuid {
    ($backend:ty, $value:ty) => {
        impl<T> ToSql<Uuid, $backend> for Id<T> {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                <uuid::Uuid as ToSql<Uuid, $backend>>::to_sql(self, out)
            }
        }

        impl<T> FromSql<Uuid, $backend> for Id<T> {
            fn from_sql(value: $value) -> deserialize::Result<Self> {
                <uuid::Uuid as FromSql<Uuid, $backend>>::from_sql(value).map(Id::from_uuid)
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

    impl ToSql<Uuid, Pg> for uuid::Uuid {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            out.write_all(self.as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl FromSql<Uuid, Pg> for uuid::Uuid {
        fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.as_bytes())
        }
    }

    id_as_uuid!(Pg, PgValue<'_>);
    same_as_diesel!(
        chrono::DateTime<chrono::Utc>,
        Timestamptz,
        diesel::sql_types::Timestamptz,
        Pg,
        PgValue<'_>
    );
    same_as_diesel!(
        serde_json::Value,
        Json,
        diesel::sql_types::Jsonb,
        Pg,
        PgValue<'_>
    );
    same_as_diesel!(
        bigdecimal::BigDecimal,
        Numeric,
        diesel::sql_types::Numeric,
        Pg,
        PgValue<'_>
    );

    same_as_uuid!(Binary, Pg, PgValue<'_>);
    same_as_uuid!(diesel::sql_types::Uuid, Pg, PgValue<'_>);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use diesel::serialize::IsNull;
    use diesel::sqlite::{Sqlite, SqliteValue};

    use super::*;

    impl ToSql<Uuid, Sqlite> for uuid::Uuid {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(self.as_bytes().as_slice());
            Ok(IsNull::No)
        }
    }

    impl FromSql<Uuid, Sqlite> for uuid::Uuid {
        fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.read_blob())
        }
    }

    // The exact decimal text: SQLite's own numbers are 64-bit floats.
    impl ToSql<Numeric, Sqlite> for bigdecimal::BigDecimal {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(self.to_string());
            Ok(IsNull::No)
        }
    }

    impl FromSql<Numeric, Sqlite> for bigdecimal::BigDecimal {
        fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            let text = value.read_text();
            text.parse()
                .map_err(|_| format!("expected a decimal number, got {text:?}").into())
        }
    }

    id_as_uuid!(Sqlite, SqliteValue<'_, '_, '_>);
    same_as_diesel!(
        chrono::DateTime<chrono::Utc>,
        Timestamptz,
        diesel::sql_types::TimestamptzSqlite,
        Sqlite,
        SqliteValue<'_, '_, '_>
    );
    same_as_diesel!(
        serde_json::Value,
        Json,
        diesel::sql_types::Json,
        Sqlite,
        SqliteValue<'_, '_, '_>
    );

    same_as_uuid!(Binary, Sqlite, SqliteValue<'_, '_, '_>);
}

#[cfg(feature = "mysql")]
mod mysql {
    use std::io::Write;

    use chrono::NaiveDateTime;
    use diesel::mysql::{Mysql, MysqlValue};
    use diesel::serialize::IsNull;
    use diesel::sql_types::Datetime;

    use super::*;

    impl ToSql<Uuid, Mysql> for uuid::Uuid {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            out.write_all(self.as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl FromSql<Uuid, Mysql> for uuid::Uuid {
        fn from_sql(value: MysqlValue<'_>) -> deserialize::Result<Self> {
            uuid_from_bytes(value.as_bytes())
        }
    }

    // MySQL's DATETIME has no time zone: the column holds UTC by contract.
    impl ToSql<Timestamptz, Mysql> for chrono::DateTime<chrono::Utc> {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            let utc = self.naive_utc();
            <NaiveDateTime as ToSql<Datetime, Mysql>>::to_sql(&utc, &mut out.reborrow())
        }
    }

    impl FromSql<Timestamptz, Mysql> for chrono::DateTime<chrono::Utc> {
        fn from_sql(value: MysqlValue<'_>) -> deserialize::Result<Self> {
            <NaiveDateTime as FromSql<Datetime, Mysql>>::from_sql(value).map(|utc| utc.and_utc())
        }
    }

    id_as_uuid!(Mysql, MysqlValue<'_>);
    same_as_uuid!(Binary, Mysql, MysqlValue<'_>);
    same_as_diesel!(
        serde_json::Value,
        Json,
        diesel::sql_types::Json,
        Mysql,
        MysqlValue<'_>
    );
    same_as_diesel!(
        bigdecimal::BigDecimal,
        Numeric,
        diesel::sql_types::Numeric,
        Mysql,
        MysqlValue<'_>
    );
}
