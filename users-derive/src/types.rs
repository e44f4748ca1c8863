//! The Rust → SQL type mapping of model fields: one table, read by the `table!`, the column
//! descriptions (and through them every backend's DDL) and the checks of [`crate::valid`].

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericArgument, Path, PathArguments, Type};

/// The portable SQL types a field can have. Each backend spells each of them one way, in
/// users-diesel's `Dialect::type_name`; nothing here is ever written into DDL by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Uuid,
    Text,
    Bool,
    SmallInt,
    Integer,
    BigInt,
    Float,
    Double,
    Binary,
    Timestamp,
    Date,
    Time,
    Timestamptz,
    Json,
    Numeric,
    /// A `#[derive(UserEnum)]` enum, stored as CHECK-constrained text.
    Enum,
    /// A PostgreSQL array (`Vec<String>`, `Vec<i32>`, …): a build with PostgreSQL only.
    Array(ArrayOf),
}

/// The element types of the PostgreSQL arrays a field can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayOf {
    Text,
    SmallInt,
    Integer,
    BigInt,
    Bool,
    Double,
}

impl ArrayOf {
    /// The `ColumnType` (and Diesel SQL type) variant's name.
    pub fn variant(self) -> &'static str {
        match self {
            ArrayOf::Text => "Text",
            ArrayOf::SmallInt => "SmallInt",
            ArrayOf::Integer => "Integer",
            ArrayOf::BigInt => "BigInt",
            ArrayOf::Bool => "Bool",
            ArrayOf::Double => "Double",
        }
    }

    fn of_rust(ty: &Type) -> Option<ArrayOf> {
        Some(match last_segment(ty)?.ident.to_string().as_str() {
            "String" => ArrayOf::Text,
            "i16" => ArrayOf::SmallInt,
            "i32" => ArrayOf::Integer,
            "i64" => ArrayOf::BigInt,
            "bool" => ArrayOf::Bool,
            "f64" => ArrayOf::Double,
            _ => return None,
        })
    }
}

impl SqlType {
    /// The `ColumnType` variant's name.
    pub fn variant(self) -> &'static str {
        match self {
            SqlType::Uuid => "Uuid",
            SqlType::Text => "Text",
            SqlType::Bool => "Bool",
            SqlType::SmallInt => "SmallInt",
            SqlType::Integer => "Integer",
            SqlType::BigInt => "BigInt",
            SqlType::Float => "Float",
            SqlType::Double => "Double",
            SqlType::Binary => "Binary",
            SqlType::Timestamp => "Timestamp",
            SqlType::Date => "Date",
            SqlType::Time => "Time",
            SqlType::Timestamptz => "Timestamptz",
            SqlType::Json => "Json",
            SqlType::Numeric => "Numeric",
            SqlType::Enum => "Enum",
            SqlType::Array(_) => "Array",
        }
    }

    /// The type inside `table!`, which imports `diesel::sql_types::*` and the portable `Uuid`.
    pub fn table_type(self, krate: &Path) -> TokenStream {
        match self {
            SqlType::Timestamptz => quote!(#krate::sql_types::Timestamptz),
            SqlType::Json => quote!(#krate::sql_types::Json),
            SqlType::Numeric => quote!(#krate::sql_types::Numeric),
            SqlType::Enum => quote!(Text),
            SqlType::Array(element) => {
                let element =
                    proc_macro2::Ident::new(element.variant(), proc_macro2::Span::call_site());
                quote!(Array<#element>)
            }
            other => {
                let ident =
                    proc_macro2::Ident::new(other.variant(), proc_macro2::Span::call_site());
                quote!(#ident)
            }
        }
    }

    /// Whether `max_length` applies: text and binary columns.
    pub fn is_sized(self) -> bool {
        matches!(self, SqlType::Text | SqlType::Binary)
    }

    /// The SQL type a Diesel SQL type's name stands for, by the path's last segment: Diesel's
    /// own names, PostgreSQL's aliases and users-diesel's portable types.
    fn of_sql_type_name(name: &str) -> Option<SqlType> {
        Some(match name {
            "Text" | "VarChar" | "Varchar" => SqlType::Text,
            "Bool" => SqlType::Bool,
            "SmallInt" | "Smallint" | "Int2" => SqlType::SmallInt,
            "Integer" | "Int4" => SqlType::Integer,
            "BigInt" | "Bigint" | "Int8" => SqlType::BigInt,
            "Float" | "Float4" => SqlType::Float,
            "Double" | "Float8" => SqlType::Double,
            "Binary" | "Blob" | "Bytea" => SqlType::Binary,
            "Timestamp" | "Datetime" => SqlType::Timestamp,
            "Date" => SqlType::Date,
            "Time" => SqlType::Time,
            "Uuid" => SqlType::Uuid,
            "Timestamptz" | "TimestamptzSqlite" => SqlType::Timestamptz,
            "Json" | "Jsonb" => SqlType::Json,
            "Numeric" | "Decimal" => SqlType::Numeric,
            _ => return None,
        })
    }
}

/// Diesel SQL types that exist on PostgreSQL only.
const POSTGRES_ONLY: &[&str] = &[
    "Array",
    "Range",
    "Multirange",
    "Inet",
    "Cidr",
    "MacAddr",
    "MacAddr8",
    "Money",
    "Interval",
    "Citext",
    "Oid",
    "Record",
    "Timetz",
];

/// How one field is stored.
pub struct SqlMapping {
    pub sql_type: SqlType,
    /// Whether the field is an `Option`.
    pub nullable: bool,
    /// Whether the field's type belongs to another crate and binds through users-diesel's
    /// `Portable` (Diesel's `serialize_as`/`deserialize_as`).
    pub portable: bool,
    /// The type inside the `Option`, if any.
    pub inner: Type,
}

/// Why a field's type cannot be stored.
pub enum Unmapped {
    /// No mapping: the tokens to blame, what is wrong, and the list of supported types where
    /// the message needs one.
    Type(TokenStream, String, Option<&'static str>),
    /// `sql_type = …` names a PostgreSQL-only type (by its last segment).
    PostgresOnly(String),
}

const HELP: &str = "supported types are String, bool, i16, i32, i64, f32, f64, Vec<u8>, \
     Id<Model>, uuid::Uuid, chrono::{NaiveDateTime, NaiveDate, NaiveTime, DateTime<Utc>}, \
     serde_json::Value, bigdecimal::BigDecimal, a #[derive(UserEnum)] enum, Vec<String>, \
     Vec<i32> and other PostgreSQL arrays (PostgreSQL only), and Option of any of them";

/// Maps a field's type; `#[column(sql_type = …)]` picks the SQL type of a type of the user's
/// own that implements Diesel's traits for it.
pub fn map_type(ty: &Type, sql_type: Option<&Path>) -> Result<SqlMapping, Unmapped> {
    let (inner, nullable) = match option_inner(ty) {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let (builtin, portable) = match builtin_sql_type(inner) {
        Ok((sql, portable)) => (Ok(sql), portable),
        Err(unmapped) => (Err(unmapped), false),
    };
    let sql_type = match sql_type {
        Some(path) => named_sql_type(path)?,
        None => builtin?,
    };
    Ok(SqlMapping {
        sql_type,
        nullable,
        portable,
        inner: inner.clone(),
    })
}

/// The SQL type `sql_type = path` names.
fn named_sql_type(path: &Path) -> Result<SqlType, Unmapped> {
    let name = path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    if let Some(sql) = SqlType::of_sql_type_name(&name) {
        return Ok(sql);
    }
    if POSTGRES_ONLY.contains(&name.as_str()) {
        return Err(Unmapped::PostgresOnly(name));
    }
    Err(Unmapped::Type(
        quote!(#path),
        format!(
            "`{name}` has no DDL on the backends users-diesel supports; `sql_type` names one \
             of Text, Bool, SmallInt, Integer, BigInt, Float, Double, Binary, Timestamp, Date, \
             Time, Uuid, Timestamptz, Json (or Jsonb), Numeric, for a type of your own that \
             implements Diesel's traits for it. Keep columns of other types in a table of your \
             own (its `table!` and migration), or bind the model to a table you declare with \
             #[user_model(schema = path::to::table)]"
        ),
        None,
    ))
}

/// The `T` of `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty)?;
    if segment.ident != "Option" {
        return None;
    }
    single_type_argument(&segment.arguments)
}

/// The SQL type of a Rust type, and whether it binds through `Portable`.
fn builtin_sql_type(ty: &Type) -> Result<(SqlType, bool), Unmapped> {
    let unmappable = |message: String| Err(Unmapped::Type(quote!(#ty), message, None));
    let unsupported = |message: String| Err(Unmapped::Type(quote!(#ty), message, Some(HELP)));
    let Some(segment) = last_segment(ty) else {
        return unsupported("this type cannot be mapped to SQL".into());
    };
    let name = segment.ident.to_string();
    let plain = segment.arguments.is_none();
    let sql = match name.as_str() {
        "String" => SqlType::Text,
        "bool" => SqlType::Bool,
        "i16" => SqlType::SmallInt,
        "i32" => SqlType::Integer,
        "i64" => SqlType::BigInt,
        "f32" => SqlType::Float,
        "f64" => SqlType::Double,
        "Id" => SqlType::Uuid,
        "NaiveDateTime" => SqlType::Timestamp,
        "NaiveDate" => SqlType::Date,
        "NaiveTime" => SqlType::Time,
        "Vec" if is_vec_u8(&segment.arguments) => SqlType::Binary,
        "Vec" => match single_type_argument(&segment.arguments).and_then(ArrayOf::of_rust) {
            Some(element) => SqlType::Array(element),
            None => {
                return unsupported(format!(
                    "`{}` cannot be mapped: a PostgreSQL array holds String, i16, i32, i64, \
                     bool or f64",
                    type_as_written(ty)
                ))
            }
        },
        "Uuid" if plain => return Ok((SqlType::Uuid, true)),
        "Value" if plain => return Ok((SqlType::Json, true)),
        "BigDecimal" if plain => return Ok((SqlType::Numeric, true)),
        "DateTime" if is_utc(&segment.arguments) => return Ok((SqlType::Timestamptz, true)),
        "DateTime" => {
            return unmappable(
                "a timestamp is stored in UTC: write `chrono::DateTime<chrono::Utc>` \
                 (convert with `.with_timezone(&Utc)`)"
                    .into(),
            )
        }
        "Option" => return unmappable("nested `Option` cannot be stored; use one `Option`".into()),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i128" | "isize" | "char"
        | "str" => return unsupported(format!("`{name}` has no SQL type on every backend")),
        // A plain type name of the user's own: an enum deriving `UserEnum` (the trait bound
        // checks it, at the field).
        _ if plain => SqlType::Enum,
        _ => {
            let written = type_as_written(ty);
            return unsupported(format!("`{written}` cannot be mapped to a SQL type"));
        }
    };
    Ok((sql, false))
}

/// A type as a person writes it: `Vec<String>`, not `Vec < String >`.
fn type_as_written(ty: &Type) -> String {
    quote!(#ty).to_string().replace(' ', "").replace(',', ", ")
}

fn is_vec_u8(arguments: &PathArguments) -> bool {
    matches!(single_type_argument(arguments), Some(Type::Path(p)) if p.path.is_ident("u8"))
}

fn is_utc(arguments: &PathArguments) -> bool {
    single_type_argument(arguments)
        .and_then(last_segment)
        .is_some_and(|segment| segment.ident == "Utc")
}

pub fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(type_path) if type_path.qself.is_none() => type_path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        _ => None,
    }
}

fn single_type_argument(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(arguments) = arguments else {
        return None;
    };
    match arguments.args.first() {
        Some(GenericArgument::Type(ty)) if arguments.args.len() == 1 => Some(ty),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(ty: &str) -> (SqlType, bool, bool) {
        let ty: Type = syn::parse_str(ty).unwrap();
        let Ok(mapping) = map_type(&ty, None) else {
            panic!("should map");
        };
        (mapping.sql_type, mapping.nullable, mapping.portable)
    }

    #[test]
    fn maps_the_documented_types() {
        assert_eq!(mapped("String").0, SqlType::Text);
        assert_eq!(mapped("i16").0, SqlType::SmallInt);
        assert_eq!(mapped("i64").0, SqlType::BigInt);
        assert_eq!(mapped("f32").0, SqlType::Float);
        assert_eq!(mapped("Vec<u8>").0, SqlType::Binary);
        assert_eq!(
            mapped("users_diesel::Id<User>"),
            (SqlType::Uuid, false, false)
        );
        assert_eq!(mapped("chrono::NaiveDateTime").0, SqlType::Timestamp);
        assert_eq!(mapped("Option<String>"), (SqlType::Text, true, false));
        assert_eq!(mapped("uuid::Uuid"), (SqlType::Uuid, false, true));
        assert_eq!(
            mapped("Option<chrono::DateTime<chrono::Utc>>"),
            (SqlType::Timestamptz, true, true)
        );
        assert_eq!(mapped("serde_json::Value").0, SqlType::Json);
        assert_eq!(mapped("BigDecimal").0, SqlType::Numeric);
        assert_eq!(mapped("Plan"), (SqlType::Enum, false, false));
        assert_eq!(mapped("Vec<String>").0, SqlType::Array(ArrayOf::Text));
        assert_eq!(
            mapped("Option<Vec<i64>>"),
            (SqlType::Array(ArrayOf::BigInt), true, false)
        );
    }

    #[test]
    fn rejects_what_it_cannot_map_with_help() {
        for ty in [
            "Vec<Vec<i32>>",
            "Vec<u32>",
            "HashMap<String, i32>",
            "DateTime<Local>",
            "u32",
            "&'static str",
            "Option<Option<i32>>",
        ] {
            let ty: Type = syn::parse_str(ty).unwrap();
            assert!(
                matches!(map_type(&ty, None), Err(Unmapped::Type(..))),
                "{ty:?}"
            );
        }
    }

    #[test]
    fn explicit_sql_types_map_by_name_never_into_ddl() {
        let ty: Type = syn::parse_str("Settings").unwrap();
        let mapping = |path: &str| map_type(&ty, Some(&syn::parse_str(path).unwrap()));
        assert!(matches!(
            mapping("diesel::sql_types::Jsonb"),
            Ok(SqlMapping {
                sql_type: SqlType::Json,
                portable: false,
                ..
            })
        ));
        assert!(matches!(
            mapping("Timestamptz"),
            Ok(SqlMapping {
                sql_type: SqlType::Timestamptz,
                ..
            })
        ));
        assert!(
            matches!(mapping("Array<Text>"), Err(Unmapped::PostgresOnly(name)) if name == "Array")
        );
        assert!(matches!(mapping("PlanMapping"), Err(Unmapped::Type(..))));
    }
}
