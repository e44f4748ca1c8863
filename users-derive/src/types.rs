//! The Rust → SQL type mapping of model fields.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{GenericArgument, Path, PathArguments, Type};

/// How one field is stored: its Diesel SQL type and its portable column type.
pub struct SqlMapping {
    /// The type inside `table!`, e.g. `Nullable<Text>` or `Uuid`.
    pub diesel_type: TokenStream,
    /// The `ColumnType` variant (under `__private::ColumnType`), e.g. `Text`.
    pub column_type: TokenStream,
    /// Whether the field is an `Option`.
    pub nullable: bool,
    /// Whether the column is text or binary, the types `max_length` applies to.
    pub sized: bool,
}

const HELP: &str = "supported types are String, bool, i16, i32, i64, f32, f64, Vec<u8>, \
     Id<Model>, chrono::NaiveDateTime, chrono::NaiveDate, chrono::NaiveTime and Option of \
     any of them; for another type name its Diesel SQL type with \
     #[column(sql_type = diesel::sql_types::…)]";

/// Maps a field's type, or takes the SQL type the user named with `#[column(sql_type = …)]`.
pub fn map_type(ty: &Type, sql_type: Option<&Path>) -> syn::Result<SqlMapping> {
    let (inner, nullable) = match option_inner(ty) {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let (diesel_type, column_type, sized) = match sql_type {
        Some(path) => {
            let (column_type, sized) = column_type_of_sql_type(path);
            (table_path(path), column_type, sized)
        }
        None => {
            let name = builtin_sql_type(inner)?;
            let ident = Ident::new(name, Span::call_site());
            (quote!(#ident), quote!(#ident), is_sized(name))
        }
    };
    let diesel_type = if nullable {
        quote!(Nullable<#diesel_type>)
    } else {
        diesel_type
    };
    Ok(SqlMapping {
        diesel_type,
        column_type,
        nullable,
        sized,
    })
}

/// The `T` of `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty)?;
    if segment.ident != "Option" {
        return None;
    }
    single_type_argument(&segment.arguments)
}

fn builtin_sql_type(ty: &Type) -> syn::Result<&'static str> {
    let unmappable = |message: String| Err(syn::Error::new_spanned(ty, message));
    let Some(segment) = last_segment(ty) else {
        return unmappable(format!("this type cannot be mapped to SQL; {HELP}"));
    };
    let name = segment.ident.to_string();
    let written = type_as_written(ty);
    Ok(match name.as_str() {
        "String" => "Text",
        "bool" => "Bool",
        "i16" => "SmallInt",
        "i32" => "Integer",
        "i64" => "BigInt",
        "f32" => "Float",
        "f64" => "Double",
        "Id" => "Uuid",
        "NaiveDateTime" => "Timestamp",
        "NaiveDate" => "Date",
        "NaiveTime" => "Time",
        "Vec" if is_vec_u8(&segment.arguments) => "Binary",
        "Option" => return unmappable("nested `Option` cannot be stored; use one `Option`".into()),
        "Uuid" => {
            return unmappable(
                "a bare `Uuid` cannot be bound to the portable UUID column (the orphan rule \
                 forbids it); use the typed id `Id<Model>`, e.g. `pub owner: Id<User>`, which \
                 converts from and into `Uuid`"
                    .into(),
            )
        }
        "DateTime" => {
            return unmappable(
                "`DateTime<Tz>` has no SQL type shared by SQLite, PostgreSQL and MySQL; store \
                 UTC as `chrono::NaiveDateTime` (`Utc::now().naive_utc()`)"
                    .into(),
            )
        }
        _ => {
            return unmappable(format!(
                "`{written}` cannot be mapped to a SQL type; {HELP}"
            ))
        }
    })
}

/// A type as a person writes it: `Vec<String>`, not `Vec < String >`.
fn type_as_written(ty: &Type) -> String {
    quote!(#ty).to_string().replace(' ', "").replace(',', ", ")
}

fn is_vec_u8(arguments: &PathArguments) -> bool {
    matches!(single_type_argument(arguments), Some(Type::Path(p)) if p.path.is_ident("u8"))
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
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

/// A user's SQL type path as written inside `table!`, whose module is a child of the user's:
/// relative paths to the user's own items need a `super::`.
fn table_path(path: &Path) -> TokenStream {
    let first = path.segments.first().map(|s| s.ident.to_string());
    match first.as_deref() {
        _ if path.leading_colon.is_some() => quote!(#path),
        Some("crate") => quote!(#path),
        Some("self") => {
            let rest = path.segments.iter().skip(1);
            quote!(super #(::#rest)*)
        }
        Some("super") => quote!(super::#path),
        // One segment is a name in the user's module; more are most likely a crate's path.
        _ if path.segments.len() == 1 => quote!(super::#path),
        _ => quote!(#path),
    }
}

/// The portable column type of an explicitly named SQL type: a Diesel type the framework
/// knows maps to its own variant, anything else is spelled in the DDL as its name in
/// upper snake case (`Jsonb` → `JSONB`, `MyEnum` → `MY_ENUM`). Also says whether the column
/// is text or binary.
fn column_type_of_sql_type(path: &Path) -> (TokenStream, bool) {
    let name = path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let known = match name.as_str() {
        "Text" | "VarChar" | "Varchar" => Some("Text"),
        "Bool" => Some("Bool"),
        "SmallInt" | "Smallint" | "Int2" => Some("SmallInt"),
        "Integer" | "Int4" => Some("Integer"),
        "BigInt" | "Bigint" | "Int8" => Some("BigInt"),
        "Float" | "Float4" => Some("Float"),
        "Double" | "Float8" => Some("Double"),
        "Binary" | "Blob" | "Bytea" => Some("Binary"),
        "Timestamp" => Some("Timestamp"),
        "Date" => Some("Date"),
        "Time" => Some("Time"),
        "Uuid" => Some("Uuid"),
        _ => None,
    };
    match known {
        Some(variant) => {
            let ident = Ident::new(variant, Span::call_site());
            (quote!(#ident), is_sized(variant))
        }
        None => {
            let ddl = match name.as_str() {
                "TinyInt" | "Tinyint" => "TINYINT".to_owned(),
                "Datetime" => "DATETIME".to_owned(),
                _ => upper_snake_case(&name),
            };
            (quote!(Custom(#ddl)), false)
        }
    }
}

/// Whether a `ColumnType` variant takes a `max_length`.
fn is_sized(variant: &str) -> bool {
    matches!(variant, "Text" | "Binary")
}

fn upper_snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(ty: &str) -> (String, String, bool) {
        let ty: Type = syn::parse_str(ty).unwrap();
        let mapping = map_type(&ty, None).unwrap();
        (
            mapping.diesel_type.to_string(),
            mapping.column_type.to_string(),
            mapping.nullable,
        )
    }

    #[test]
    fn maps_the_documented_types() {
        assert_eq!(mapped("String").0, "Text");
        assert_eq!(mapped("i16").0, "SmallInt");
        assert_eq!(mapped("i64").0, "BigInt");
        assert_eq!(mapped("f32").0, "Float");
        assert_eq!(mapped("Vec<u8>").0, "Binary");
        assert_eq!(mapped("users_diesel::Id<User>").0, "Uuid");
        assert_eq!(mapped("chrono::NaiveDateTime").0, "Timestamp");
        assert_eq!(
            mapped("Option<String>"),
            ("Nullable < Text >".into(), "Text".into(), true)
        );
    }

    #[test]
    fn rejects_what_it_cannot_map_with_help() {
        for ty in [
            "Vec<String>",
            "HashMap<String, i32>",
            "uuid::Uuid",
            "Option<Option<i32>>",
        ] {
            let ty: Type = syn::parse_str(ty).unwrap();
            let error = map_type(&ty, None).err().expect("should not map");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn explicit_sql_types_keep_their_path_and_name_the_ddl() {
        let ty: Type = syn::parse_str("serde_json::Value").unwrap();
        let path: Path = syn::parse_str("diesel::sql_types::Jsonb").unwrap();
        let mapping = map_type(&ty, Some(&path)).unwrap();
        assert_eq!(
            mapping.diesel_type.to_string(),
            "diesel :: sql_types :: Jsonb"
        );
        assert_eq!(mapping.column_type.to_string(), "Custom (\"JSONB\")");
        let local: Path = syn::parse_str("MyEnum").unwrap();
        let mapping = map_type(&ty, Some(&local)).unwrap();
        assert_eq!(mapping.diesel_type.to_string(), "super :: MyEnum");
        assert_eq!(mapping.column_type.to_string(), "Custom (\"MY_ENUM\")");
    }
}
