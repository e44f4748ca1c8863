//! [`Refusal`]: a change the migrations will not make, and what to write instead.

use std::fmt;

/// A change the migrations will not make, because making it would mean guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The column's type differs from the field's.
    TypeChanged {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The type it has.
        found: String,
        /// The type the model needs.
        expected: String,
    },
    /// The column accepts NULL, but the field is no longer an `Option`.
    MadeRequired {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A new required column has no default to give the rows that exist.
    RequiredWithoutDefault {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column the model no longer has is NOT NULL without a default, so inserts would fail.
    RemovedRequired {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// Both a renamed column and its old name exist.
    RenameAmbiguous {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// The backend cannot make the change in place.
    NotInPlace {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What would have to change.
        change: String,
    },
    /// A unique index cannot be created: values repeat.
    Duplicates {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// How many distinct values appear more than once.
        values: i64,
        /// How often the most repeated one appears.
        most: i64,
    },
    /// Values of a decimal column stored as text do not fit its `NUMERIC(P, S)`.
    DoesNotFit {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// How many values do not fit.
        values: i64,
        /// The column's precision.
        precision: u32,
        /// The column's scale.
        scale: u32,
    },
    /// A value is too long for the `VARCHAR` an index on MySQL needs.
    TooLong {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The longest value's length.
        longest: i64,
        /// The length the column would get.
        length: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TypeChanged {
                table,
                column,
                found,
                expected,
            } => write!(
                f,
                "{table}.{column}: the column is {found} but the field needs {expected}; a type \
                 change is never made automatically: keep the field's type, or add a field \
                 under a new name and copy the data over in a migration of your own"
            ),
            Refusal::MadeRequired { table, column } => write!(
                f,
                "{table}.{column}: the column accepts NULL but the field is no longer an \
                 `Option`; keep it an `Option`, or fill the NULLs and make the column NOT NULL \
                 in a migration of your own"
            ),
            Refusal::RequiredWithoutDefault { table, column } => write!(
                f,
                "{table}.{column}: a new required column needs a value for the rows that \
                 exist; give the field `#[column(default = …)]` with a literal, or make it an \
                 `Option`"
            ),
            Refusal::RemovedRequired { table, column } => write!(
                f,
                "{table}.{column}: the model has no field for this column, which is NOT NULL \
                 without a default, so every insert would fail; add the field back, or drop \
                 the column with `dropped_columns = [\"{column}\"]` in the model's attribute"
            ),
            Refusal::RenameAmbiguous { table, from, to } => write!(
                f,
                "{table}.{to}: `renamed_from = \"{from}\"`, but both `{from}` and `{to}` exist; \
                 move the data and drop `{from}` yourself, or remove `renamed_from`"
            ),
            Refusal::NotInPlace {
                table,
                column,
                change,
            } => write!(
                f,
                "{table}.{column}: {change}, which this backend cannot do in place; keep the \
                 field as it was, or rebuild the table in a migration of your own"
            ),
            Refusal::Duplicates {
                table,
                column,
                values,
                most,
            } => write!(
                f,
                "{table}.{column}: cannot add the unique index: {values} value{s} appear{v} \
                 more than once (one of them {most} times); make the values unique, then run \
                 the migrations again",
                s = if *values == 1 { "" } else { "s" },
                v = if *values == 1 { "s" } else { "" },
            ),
            Refusal::DoesNotFit {
                table,
                column,
                values,
                precision,
                scale,
            } => write!(
                f,
                "{table}.{column}: {values} value{s} cannot be stored exactly as NUMERIC\
                 ({precision}, {scale}) (more than {} digits before the point, or no decimal \
                 number); correct {them}, then run the migrations again",
                precision - scale,
                s = if *values == 1 { "" } else { "s" },
                them = if *values == 1 { "it" } else { "them" },
            ),
            Refusal::TooLong {
                table,
                column,
                longest,
                length,
            } => write!(
                f,
                "{table}.{column}: an index needs the column to be VARCHAR({length}), but a \
                 value is {longest} characters long; shorten it, or give the field a larger \
                 `#[column(max_length = …)]`"
            ),
        }
    }
}
