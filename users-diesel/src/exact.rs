//! Carrying a SQLite decimal column from the decimal text an earlier users-diesel stored to the
//! scaled integer [`Numeric<P, S>`](crate::sql_types::Numeric) stores now, and back for a
//! revert, in SQL alone, so the embedded migrations and the migration files convert alike.
//!
//! The text is read exactly as written (a sign, digits, a point, an exponent: `-1E-10`,
//! `12345.678`): its digits move by the exponent and the scale, and the first digit cut off
//! rounds half away from zero, as PostgreSQL and MySQL round. Text that is no decimal, or a
//! value too wide for the column, becomes a number the column's `CHECK` refuses, so the
//! migration fails whole and changes nothing; the embedded migrations count those values first
//! and refuse with the count.

use crate::dialect::{scaled_decimal_check, Dialect};
use crate::plan::IndexState;
use crate::schema::Column;

/// What an unconvertible value becomes: above every `NUMERIC(P, S)` range (`P` ≤ 18).
const OUT_OF_RANGE: &str = "9223372036854775807";

/// `SELECT r, v`: for each row of `table` with a value in `column`, its rowid `r` and the
/// integer `v` that stands for the value at `scale` (or [`OUT_OF_RANGE`]).
pub(crate) fn converted(table: &str, column: &str, scale: u32) -> String {
    // Innermost first: the trimmed text; its sign and the rest in capitals; the mantissa `m`
    // and exponent `x`; the digits before (`ip`) and after (`fp`) the point; all digits `d` and
    // `k`, the places they move left (negative: right) to make the integer at `scale`; the
    // digits `kept` and whether the first one cut off rounds `up`.
    format!(
        "SELECT r, CASE WHEN bad OR length(kept) > 18 THEN {OUT_OF_RANGE} \
                   ELSE sign * (CAST(kept AS INTEGER) + up) END AS v FROM (\
         SELECT r, sign, bad, \
           CASE WHEN k >= 0 THEN ltrim(d || substr('00000000000000000000', 1, min(k, 20)), '0') \
                WHEN length(d) + k > 0 THEN ltrim(substr(d, 1, length(d) + k), '0') \
                ELSE '' END AS kept, \
           CASE WHEN k < 0 AND length(d) + k >= 0 AND substr(d, length(d) + k + 1, 1) >= '5' \
                THEN 1 ELSE 0 END AS up \
         FROM (SELECT r, sign, ip || fp AS d, \
             ip || fp = '' OR (ip || fp) GLOB '*[^0-9]*' OR ltrim(x, '+-') = '' \
               OR ltrim(x, '+-') GLOB '*[^0-9]*' OR length(ltrim(x, '+-')) > 4 AS bad, \
             length(ip) + CAST(x AS INTEGER) + {scale} - length(ip || fp) AS k \
           FROM (SELECT r, sign, \
               CASE WHEN instr(m, '.') > 0 THEN substr(m, 1, instr(m, '.') - 1) ELSE m END AS ip, \
               CASE WHEN instr(m, '.') > 0 THEN substr(m, instr(m, '.') + 1) ELSE '' END AS fp, \
               x \
             FROM (SELECT r, sign, \
                 CASE WHEN instr(u, 'E') > 0 THEN substr(u, 1, instr(u, 'E') - 1) ELSE u END AS m, \
                 CASE WHEN instr(u, 'E') > 0 THEN substr(u, instr(u, 'E') + 1) ELSE '0' END AS x \
               FROM (SELECT r, CASE WHEN t LIKE '-%' THEN -1 ELSE 1 END AS sign, \
                   upper(CASE WHEN t LIKE '-%' OR t LIKE '+%' THEN substr(t, 2) ELSE t END) AS u \
                 FROM (SELECT rowid AS r, trim(CAST({column} AS TEXT)) AS t FROM {table} \
                   WHERE {column} IS NOT NULL))))))"
    )
}

/// The number of values of `table.column` that do not convert into `NUMERIC(precision, scale)`.
pub(crate) fn not_fitting(
    dialect: Dialect,
    table: &str,
    column: &str,
    precision: u32,
    scale: u32,
) -> String {
    let most = 10i64.pow(precision) - 1;
    format!(
        "SELECT COUNT(*) AS n FROM ({}) AS converted WHERE v NOT BETWEEN -{most} AND {most}",
        converted(&dialect.quote(table), &dialect.quote(column), scale)
    )
}

/// The decimal text of the integer in `column` at `scale`, as `BigDecimal` writes it.
fn as_text(column: &str, scale: u32) -> String {
    if scale == 0 {
        return format!("CAST({column} AS TEXT)");
    }
    let unit = 10i64.pow(scale);
    format!(
        "CASE WHEN {column} < 0 THEN '-' ELSE '' END || (abs({column}) / {unit}) || '.' || \
         substr('{zeros}' || (abs({column}) % {unit}), -{scale})",
        zeros = "0".repeat(scale as usize)
    )
}

/// The name the new column has until it replaces `column`.
fn converted_name(column: &str) -> String {
    format!("{column}__converted")
}

/// The statements that replace `column` of `table` by a column `definition`, filled by the
/// statements `fill` makes for the new column (its quoted name), dropping and recreating the
/// `indexes` on it: SQLite can change a column's type only by adding a column, copying,
/// dropping the old one and renaming the new.
fn replace_column(
    dialect: Dialect,
    table: &str,
    column: &str,
    definition: &str,
    fill: impl FnOnce(&str) -> String,
    indexes: &[IndexState],
) -> String {
    let t = dialect.quote(table);
    let c = dialect.quote(column);
    let new = dialect.quote(&converted_name(column));
    let mut sql = String::new();
    for index in indexes {
        sql.push_str(&format!("DROP INDEX {};\n", dialect.quote(&index.name)));
    }
    sql.push_str(&format!("ALTER TABLE {t} ADD COLUMN {new} {definition};\n"));
    sql.push_str(&fill(&new));
    sql.push_str(&format!("ALTER TABLE {t} DROP COLUMN {c};\n"));
    sql.push_str(&format!("ALTER TABLE {t} RENAME COLUMN {new} TO {c};\n"));
    for index in indexes {
        let columns: Vec<String> = index.columns.iter().map(|c| dialect.quote(c)).collect();
        sql.push_str(&format!(
            "CREATE {}INDEX {} ON {t} ({});\n",
            if index.unique { "UNIQUE " } else { "" },
            dialect.quote(&index.name),
            columns.join(", ")
        ));
    }
    sql
}

/// A `NOT NULL` on a column added to a table with rows needs a default; the placeholder stays
/// (SQLite cannot drop a default in place), as for the timestamps the migrations add, and the
/// store always writes the column.
fn not_null(column: &Column, placeholder: &str) -> String {
    if column.nullable {
        String::new()
    } else {
        format!(" NOT NULL DEFAULT {placeholder}")
    }
}

/// Up: the decimal text of `column` becomes the integer at the column's scale.
pub(crate) fn to_integers(
    dialect: Dialect,
    table: &str,
    column: &Column,
    indexes: &[IndexState],
) -> String {
    let crate::schema::ColumnType::Numeric { scale, .. } = column.ty else {
        return String::new();
    };
    let t = dialect.quote(table);
    let temp = dialect.quote("__users_exact_decimal");
    // The range CHECK names the new column; RENAME COLUMN renames it there too.
    let check = scaled_decimal_check(dialect, &converted_name(column.name), column);
    let definition = format!(
        "INTEGER{}{}",
        not_null(column, "0"),
        check.unwrap_or_default()
    );
    let c = dialect.quote(column.name);
    let fill = |new: &str| {
        format!(
            "CREATE TEMP TABLE {temp} AS {};\n\
             UPDATE {t} SET {new} = (SELECT v FROM {temp} WHERE r = {t}.rowid) \
             WHERE {c} IS NOT NULL;\n\
             DROP TABLE {temp};\n",
            converted(&t, &c, scale),
        )
    };
    replace_column(dialect, table, column.name, &definition, fill, indexes)
}

/// Down: the integer at the column's scale becomes the decimal text again.
pub(crate) fn to_text(
    dialect: Dialect,
    table: &str,
    column: &Column,
    indexes: &[IndexState],
) -> String {
    let crate::schema::ColumnType::Numeric { scale, .. } = column.ty else {
        return String::new();
    };
    let t = dialect.quote(table);
    let c = dialect.quote(column.name);
    let definition = format!("TEXT{}", not_null(column, "'0'"));
    let fill = |new: &str| {
        format!(
            "UPDATE {t} SET {new} = {} WHERE {c} IS NOT NULL;\n",
            as_text(&c, scale)
        )
    };
    replace_column(dialect, table, column.name, &definition, fill, indexes)
}
