//! A plain-data description of a model's tables, written by the macros and read by the
//! migrations and the schema verification. It says *what* the table holds; how each backend
//! spells it is [`crate::migrations`]' business.

/// The portable type of a column, before any backend has spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// [`sql_types::Uuid`](crate::sql_types::Uuid): a typed id or a `uuid::Uuid`.
    Uuid,
    /// `Text`: a `String`.
    Text,
    /// `Bool`.
    Bool,
    /// `SmallInt`: an `i16`.
    SmallInt,
    /// `Integer`: an `i32`.
    Integer,
    /// `BigInt`: an `i64`.
    BigInt,
    /// `Float`: an `f32`.
    Float,
    /// `Double`: an `f64`.
    Double,
    /// `Binary`: a `Vec<u8>`.
    Binary,
    /// `Timestamp`: a `chrono::NaiveDateTime`.
    Timestamp,
    /// `Date`: a `chrono::NaiveDate`.
    Date,
    /// `Time`: a `chrono::NaiveTime`.
    Time,
    /// [`sql_types::Timestamptz`](crate::sql_types::Timestamptz): a `chrono::DateTime<Utc>`.
    Timestamptz,
    /// [`sql_types::Json`](crate::sql_types::Json): a `serde_json::Value`.
    Json,
    /// [`sql_types::Numeric`](crate::sql_types::Numeric): a `bigdecimal::BigDecimal` with at
    /// most `precision` significant digits (at most 18), `scale` of them after the decimal point.
    Numeric {
        /// The total number of significant digits.
        precision: u32,
        /// The number of digits after the decimal point.
        scale: u32,
    },
    /// A `#[derive(UserEnum)]` enum: text restricted to `values` by a CHECK constraint.
    Enum {
        /// The stored names of the variants, in declaration order.
        values: &'static [&'static str],
    },
    /// A PostgreSQL array of `element`s (`Vec<String>`, `Vec<i32>`, …), in builds whose only
    /// backend is PostgreSQL.
    Array {
        /// The element type.
        element: &'static ColumnType,
    },
}

/// A literal default of a column, emitted as the SQL `DEFAULT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// An integer literal.
    Int(i64),
    /// A floating point literal, as written.
    Float(&'static str),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal.
    Str(&'static str),
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// The SQL name.
    pub name: &'static str,
    /// The portable type.
    pub ty: ColumnType,
    /// Whether the column accepts NULL (the field is an `Option`).
    pub nullable: bool,
    /// Whether the column has a UNIQUE constraint.
    pub unique: bool,
    /// Whether the column has an index of its own (besides any unique one).
    pub indexed: bool,
    /// The literal SQL default, if any.
    pub default: Option<DefaultValue>,
    /// The maximum length in characters, for backends that need one to index text.
    pub max_length: Option<u32>,
    /// `#[column(renamed_from = "old")]`: the column's name in earlier versions of the model, so
    /// a database made by one of them renames it in place instead of adding a new column.
    pub renamed_from: Option<&'static str>,
    /// Whether rows that exist when the column is added get the time of the migration (the
    /// `timestamps` columns), rather than needing a literal default.
    pub backfill_now: bool,
}

impl Column {
    /// A NOT NULL column with no constraints, default or length.
    pub const fn new(name: &'static str, ty: ColumnType) -> Self {
        Column {
            name,
            ty,
            nullable: false,
            unique: false,
            indexed: false,
            default: None,
            max_length: None,
            renamed_from: None,
            backfill_now: false,
        }
    }

    /// The same column, accepting NULL.
    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    /// The same column, with a UNIQUE constraint.
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// The same column, with an index of its own.
    pub const fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }

    /// The same column, with a literal SQL default.
    pub const fn default(mut self, value: DefaultValue) -> Self {
        self.default = Some(value);
        self
    }

    /// The same column, with a maximum length in characters.
    pub const fn max_length(mut self, length: u32) -> Self {
        self.max_length = Some(length);
        self
    }

    /// The same column, known as `old_name` in earlier versions of the model.
    pub const fn renamed_from(mut self, old_name: &'static str) -> Self {
        self.renamed_from = Some(old_name);
        self
    }

    /// The same column, filled with the migration's time in rows that exist when it is added.
    pub const fn backfill_now(mut self) -> Self {
        self.backfill_now = true;
        self
    }
}

/// A foreign key from one column to another table's primary key, deleted with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    /// The referencing column of this table.
    pub column: &'static str,
    /// The referenced table (its `id` column).
    pub references: &'static str,
}

/// One table: its columns in order, primary key, foreign keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Table {
    /// The SQL name.
    pub name: &'static str,
    /// The columns, in the order of the struct's fields.
    pub columns: &'static [Column],
    /// The primary key's columns.
    pub primary_key: &'static [&'static str],
    /// Foreign keys, each `ON DELETE CASCADE`.
    pub foreign_keys: &'static [ForeignKey],
    /// Columns that earlier versions of the model had and the migrations drop:
    /// `#[user_model(dropped_columns = ["handle"])]`. Only a column named here is ever dropped.
    pub dropped_columns: &'static [&'static str],
}

/// A model that brings its own tables: implemented by `#[user_model]` and `#[role_model]`.
pub trait ModelSchema {
    /// The tables the model's migration creates, in creation order.
    const TABLES: &'static [Table];

    /// Where the model's migration sorts among the framework's: user models before role models,
    /// because a role model's join table references the user table.
    const MIGRATION_ORDER: u8;
}

/// The user model of a role model: `impl RoleUser for Role { type Type = User; }` is the one
/// place the role macro names the user type, so a user type that is not in scope is one error
/// there. (Not `type User`: rustc would suggest `Self::User` for the missing name.)
#[doc(hidden)]
pub trait RoleUser {
    /// The user model (`User` unless `#[role_model(user = …)]`).
    type Type;
}

/// A table of a role model bound to the user model `U`: its own table and its join table.
/// `#[user_model]` lets its table appear beside every such table in one query, so the role
/// macro never names the user table in an impl of its own: a user type that is not in scope is
/// then one error, not a conflict between Diesel's impls for every table involved.
#[doc(hidden)]
pub trait RoleTableOf<U> {}

/// The table of the user model of the role model `R`, implemented by `#[user_model]` for every
/// role model bound to it: `#[role_model]` lets its tables appear beside and join to it.
#[doc(hidden)]
pub trait UserTableOf<R> {}

/// A role model's join table, which joins the table of the user model `U` on `user_id`.
#[doc(hidden)]
pub trait JoinTableOf<U> {
    /// `join_table.user_id = users.id`, as Diesel's `joinable!` writes it.
    type OnUser;

    /// The join condition.
    fn on_user() -> Self::OnUser;
}

/// Fails constant evaluation with `message` if a role model's table is the user model's table:
/// only the user model knows its table's name, so the role macro checks when both meet.
#[doc(hidden)]
pub const fn assert_not_user_table(user_table: &str, table: &str, message: &str) {
    if same_name(user_table, table) {
        panic!("{}", message);
    }
}

const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// What the macros emit for a table bound with `schema = …`: each field's type is
/// `Checked<T, { check::<column, …>() }>`, which is `T` when the column can hold it. When it
/// cannot, the call fails once, at the schema path or the field, with a message that names the
/// column; the constant then has no value, so the field's type is an error that rustc reports
/// nowhere else (a plain bound would fail again at every use of the field).
#[doc(hidden)]
pub mod check {
    use diesel::expression::{AsExpression, Expression};

    /// `T`, once the check `OK` has compiled.
    pub type Checked<T, const OK: bool> = <Passed<OK> as Then<T>>::Type;

    /// The result of a check, as a type.
    pub struct Passed<const OK: bool>;

    /// `Type` is `T` for a passed check.
    pub trait Then<T: ?Sized> {
        /// `T`.
        type Type: ?Sized;
    }

    impl<T: ?Sized> Then<T> for Passed<true> {
        type Type = T;
    }

    /// An injected column's SQL type is exactly `Expected`.
    pub const fn holds<C: Expression, Expected>() -> bool
    where
        C::SqlType: SqlTypeIs<C, Expected>,
    {
        true
    }

    /// An injected `id` column can hold a typed id.
    pub const fn holds_id<C: Expression>() -> bool
    where
        C::SqlType: IdSqlType<C>,
    {
        true
    }

    /// An injected timestamp column can hold a UTC `NaiveDateTime`.
    pub const fn holds_timestamp<C: Expression>() -> bool
    where
        C::SqlType: TimestampSqlType<C>,
    {
        true
    }

    /// A field of the user's own can be written to its column (reading is checked by the
    /// derives' `check_for_backend`, which only runs once this passes).
    pub const fn fits<C: Expression, T>() -> bool
    where
        T: FieldFits<C>,
    {
        true
    }

    /// The column's SQL type (`Self`) is exactly the one the model's field needs.
    #[diagnostic::on_unimplemented(
        message = "column `{Column}` of this table has SQL type `{Self}`, but the model needs `{Expected}`",
        label = "`{Column}` has the wrong type in this table",
        note = "declare the column as `{Expected}` in the `table!` and in its migration"
    )]
    pub trait SqlTypeIs<Column, Expected> {}

    impl<Column, T> SqlTypeIs<Column, T> for T {}

    /// The column's SQL type can hold a typed id.
    #[diagnostic::on_unimplemented(
        message = "column `{Column}` of this table has SQL type `{Self}`, which cannot hold a typed id",
        label = "`{Column}` has the wrong type in this table",
        note = "an id column is `Uuid` on PostgreSQL, `Binary` (16 bytes) on SQLite and MySQL, \
                or `users_diesel::sql_types::Uuid` on any backend"
    )]
    pub trait IdSqlType<Column> {}

    impl<Column> IdSqlType<Column> for crate::sql_types::Uuid {}
    impl<Column> IdSqlType<Column> for diesel::sql_types::Binary {}
    #[cfg(feature = "postgres")]
    impl<Column> IdSqlType<Column> for diesel::sql_types::Uuid {}

    /// The column's SQL type can hold a UTC `NaiveDateTime`.
    #[diagnostic::on_unimplemented(
        message = "column `{Column}` of this table has SQL type `{Self}`, which cannot hold a timestamp",
        label = "`{Column}` has the wrong type in this table",
        note = "a timestamp column is `Timestamp` (or `Datetime` on MySQL)"
    )]
    pub trait TimestampSqlType<Column> {}

    impl<Column> TimestampSqlType<Column> for diesel::sql_types::Timestamp {}
    #[cfg(feature = "mysql")]
    impl<Column> TimestampSqlType<Column> for diesel::sql_types::Datetime {}

    /// A field's type (`Self`) converts to its column's SQL type.
    #[diagnostic::on_unimplemented(
        message = "the field's type `{Self}` cannot be stored in column `{Column}` of this table",
        label = "`{Self}` does not fit `{Column}`",
        note = "give the field a type that Diesel maps to the column's SQL type, or change the \
                column in the `table!` and in its migration"
    )]
    pub trait FieldFits<Column> {}

    impl<C, T> FieldFits<C> for T
    where
        C: Expression,
        C::SqlType: diesel::sql_types::SqlType,
        T: AsExpression<C::SqlType>,
    {
    }
}
