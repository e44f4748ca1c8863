//! Portable SQL types: one Diesel type, the natural storage on each backend.
//!
//! | type | Rust | PostgreSQL | SQLite | MySQL / MariaDB |
//! |---|---|---|---|---|
//! | [`Uuid`] | `Id<T>`, `uuid::Uuid` | `UUID` | 16-byte `BLOB` | `BINARY(16)` |
//! | [`Timestamptz`] | `chrono::DateTime<Utc>` | `TIMESTAMPTZ` | ISO 8601 `TEXT` | `DATETIME(6)` in UTC |
//! | [`Json`] | `serde_json::Value` | `JSONB` | `TEXT` | `JSON` |
//! | [`Numeric<P, S>`](Numeric) | `bigdecimal::BigDecimal` | `NUMERIC(P, S)` | `INTEGER`, scaled by 10^S | `DECIMAL(P, S)` |
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

/// An exact decimal number of at most `P` digits, `S` of them after the point,
/// `bigdecimal::BigDecimal`: `NUMERIC(P, S)` on PostgreSQL, `DECIMAL(P, S)` on MySQL, and on SQLite
/// (which has no exact decimal type: Diesel's own `Numeric` goes through a `f64` there) the value
/// times 10^S as an `INTEGER`, which SQLite compares, orders and adds exactly. `P` is at most 18,
/// the digits a 64-bit integer always holds.
///
/// Every backend stores the same value: a value with more than `S` decimals is rounded to `S`,
/// half away from zero (as PostgreSQL and MySQL round), and one with more than `P - S` digits
/// before the point is refused before anything is sent ([`fit`]).
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
#[diesel(postgres_type(oid = 1700, array_oid = 1231))]
#[diesel(sqlite_type(name = "Long"))]
#[diesel(mysql_type(name = "Numeric"))]
pub struct Numeric<const P: u8, const S: u8>;

/// Why a decimal does not fit a [`Numeric<P, S>`](Numeric) column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value} does not fit NUMERIC({precision}, {scale}): at most {} digits before the point",
    precision.saturating_sub(*scale)
)]
pub struct DoesNotFit {
    /// The value, as given.
    pub value: String,
    /// The column's precision `P`.
    pub precision: u8,
    /// The column's scale `S`.
    pub scale: u8,
}

/// `value` as a `NUMERIC(P, S)` column stores it: rounded to `S` decimals, half away from zero,
/// and refused when it has more than `P - S` digits before the point. The one rule all three
/// backends apply, before the value is sent.
pub fn fit<const P: u8, const S: u8>(
    value: &bigdecimal::BigDecimal,
) -> Result<bigdecimal::BigDecimal, DoesNotFit> {
    let rounded = value.with_scale_round(i64::from(S), bigdecimal::RoundingMode::HalfUp);
    let (digits, _) = rounded.as_bigint_and_exponent();
    let limit = bigdecimal::num_bigint::BigInt::from(10u8).pow(u32::from(P));
    if digits.magnitude() >= limit.magnitude() {
        return Err(DoesNotFit {
            value: value.to_string(),
            precision: P,
            scale: S,
        });
    }
    Ok(rounded)
}

/// Before a model's row is written: [`UsersError::OutOfRange`](users_core::UsersError) naming
/// `column` where its decimal does not [`fit`].
#[doc(hidden)]
pub fn check_fits<const P: u8, const S: u8>(
    value: Option<&bigdecimal::BigDecimal>,
    column: &'static str,
) -> Result<(), users_core::UsersError> {
    match value.map(fit::<P, S>) {
        Some(Err(problem)) => Err(users_core::UsersError::OutOfRange {
            column,
            reason: problem.to_string(),
        }),
        _ => Ok(()),
    }
}

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

/// Sums and differences of decimals of one column type (on SQLite, of integers at one scale;
/// a product or quotient would change the scale, so there is none).
impl<const P: u8, const S: u8> diesel::sql_types::ops::Add for Numeric<P, S> {
    type Rhs = Numeric<P, S>;
    type Output = Numeric<P, S>;
}

impl<const P: u8, const S: u8> diesel::sql_types::ops::Sub for Numeric<P, S> {
    type Rhs = Numeric<P, S>;
    type Output = Numeric<P, S>;
}

/// What `*` and `/` on a decimal column take: no value is one, so a product or a quotient of
/// decimal columns in a query does not compile (on SQLite it would change the integers' scale).
/// Multiply the values once loaded, where `BigDecimal` is exact.
#[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId, SqlType)]
pub struct NoDecimalProducts;

impl<const P: u8, const S: u8> diesel::sql_types::ops::Mul for Numeric<P, S> {
    type Rhs = NoDecimalProducts;
    type Output = Numeric<P, S>;
}

impl<const P: u8, const S: u8> diesel::sql_types::ops::Div for Numeric<P, S> {
    type Rhs = NoDecimalProducts;
    type Output = Numeric<P, S>;
}

/// Points in time and decimals have an order on every backend, so `max` and `min` take them (as
/// Diesel's own `Timestamptz` and `Numeric`); the result loads as `Option<Portable<T>>`. UUIDs
/// compare and sort everywhere, but PostgreSQL has no `max(uuid)`, so they take neither.
impl diesel::sql_types::SqlOrd for Timestamptz {}
impl<const P: u8, const S: u8> diesel::sql_types::SqlOrd for Numeric<P, S> {}

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

/// [`Portable`] of `$ty` binds as `$sql`, and as its nullable form both `Portable($ty)` (a value
/// compared with an optional column, alone or in `eq_any`) and `Portable(Option<$ty>)` (an
/// optional field written); `const P, S: Numeric<P, S>` binds as each `Numeric<P, S>`. The value
/// inside is written as the backend's `ToSql` impl of `$ty` writes it.
macro_rules! binds_as {
    ($ty:ty => $(const $($param:ident),*:)? $sql:ty) => {
        impl<DB: Backend $($(, const $param: u8)*)?> ToSql<$sql, DB> for Portable<$ty>
        where
            $ty: ToSql<$sql, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend $($(, const $param: u8)*)?> ToSql<Nullable<$sql>, DB> for Portable<$ty>
        where
            $ty: ToSql<$sql, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend $($(, const $param: u8)*)?> ToSql<Nullable<$sql>, DB>
            for Portable<Option<$ty>>
        where
            Option<$ty>: ToSql<Nullable<$sql>, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl$(<$(const $param: u8),*>)? AsExpression<$sql> for Portable<$ty> {
            type Expression = Bound<$sql, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl$(<$(const $param: u8),*>)? AsExpression<Nullable<$sql>> for Portable<$ty> {
            type Expression = diesel::dsl::Nullable<Bound<$sql, Self>>;

            fn as_expression(self) -> Self::Expression {
                diesel::NullableExpressionMethods::nullable(Bound::new(self))
            }
        }

        impl$(<$(const $param: u8),*>)? AsExpression<Nullable<$sql>> for Portable<Option<$ty>> {
            type Expression = Bound<Nullable<$sql>, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }
    };
}

binds_as!(uuid::Uuid => Uuid);
binds_as!(chrono::DateTime<chrono::Utc> => Timestamptz);
binds_as!(serde_json::Value => Json);
binds_as!(bigdecimal::BigDecimal => const P, S: Numeric<P, S>);

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

/// `BigDecimal` as [`Numeric<P, S>`](Numeric) on `$backend`: [`fit`] first, then as Diesel
/// spells its own `Numeric`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! exact_as_diesel {
    ($backend:ty, $value:ty) => {
        impl<const P: u8, const S: u8> ToSql<Numeric<P, S>, $backend> for bigdecimal::BigDecimal {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                let fitted = fit::<P, S>(self)?;
                <bigdecimal::BigDecimal as ToSql<diesel::sql_types::Numeric, $backend>>::to_sql(
                    &fitted,
                    &mut out.reborrow(),
                )
            }
        }

        impl<const P: u8, const S: u8> FromSql<Numeric<P, S>, $backend> for bigdecimal::BigDecimal {
            fn from_sql(value: $value) -> deserialize::Result<Self> {
                <Self as FromSql<diesel::sql_types::Numeric, $backend>>::from_sql(value)
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
    exact_as_diesel!(Pg, PgValue<'_>);

    same_as_uuid!(Binary, Pg, PgValue<'_>);
    same_as_uuid!(diesel::sql_types::Uuid, Pg, PgValue<'_>);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use diesel::serialize::IsNull;
    use diesel::sqlite::{Sqlite, SqliteValue};

    use super::*;

    /// `value` times 10^S, the integer SQLite stores for a `NUMERIC(P, S)` column (after [`fit`]).
    fn scaled<const P: u8, const S: u8>(value: &bigdecimal::BigDecimal) -> Result<i64, DoesNotFit> {
        let (digits, _) = fit::<P, S>(value)?.as_bigint_and_exponent();
        // P ≤ 18, so a fitting value is below 10^18 in magnitude.
        i64::try_from(digits).map_err(|_| DoesNotFit {
            value: value.to_string(),
            precision: P,
            scale: S,
        })
    }

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

    // The value times 10^S: SQLite's integers are exact, its other numbers 64-bit floats.
    impl<const P: u8, const S: u8> ToSql<Numeric<P, S>, Sqlite> for bigdecimal::BigDecimal {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(scaled::<P, S>(self)?);
            Ok(IsNull::No)
        }
    }

    impl<const P: u8, const S: u8> FromSql<Numeric<P, S>, Sqlite> for bigdecimal::BigDecimal {
        fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            let scaled = <i64 as FromSql<diesel::sql_types::BigInt, Sqlite>>::from_sql(value)?;
            Ok(bigdecimal::BigDecimal::new(scaled.into(), i64::from(S)))
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
    exact_as_diesel!(Mysql, MysqlValue<'_>);
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bigdecimal::BigDecimal;

    use super::fit;

    fn decimal(text: &str) -> BigDecimal {
        BigDecimal::from_str(text).unwrap()
    }

    #[test]
    fn fit_rounds_half_away_from_zero_and_refuses_what_overflows() {
        assert_eq!(fit::<4, 2>(&decimal("1.005")).unwrap(), decimal("1.01"));
        assert_eq!(fit::<4, 2>(&decimal("-1.005")).unwrap(), decimal("-1.01"));
        assert_eq!(fit::<4, 2>(&decimal("99.994")).unwrap(), decimal("99.99"));
        let refused = fit::<4, 2>(&decimal("99.995")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "99.995 does not fit NUMERIC(4, 2): at most 2 digits before the point"
        );
        // A scale above the precision (possible in a hand-written `table!`) still reads.
        assert!(fit::<2, 5>(&decimal("1"))
            .unwrap_err()
            .to_string()
            .contains("at most 0"));
    }
}
