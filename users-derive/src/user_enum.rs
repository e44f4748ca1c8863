//! `#[derive(UserEnum)]`: a fieldless enum stored as text, one name per variant, which the
//! migrations restrict to those names with a CHECK constraint. Parse → validate → expand, as
//! the attribute macros do, in one file because the input is small.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::ctxt::Errors;

// #[user_enum(rename = "stored_name")] on a variant
const USER_ENUM: &str = "user_enum";
const RENAME: &str = "rename";

/// The enum as the derive reads it.
struct UserEnum<'a> {
    ident: &'a Ident,
    variants: Vec<Variant<'a>>,
}

struct Variant<'a> {
    ident: &'a Ident,
    /// Whether the variant carries data (an error; the fallback expansion still names it).
    data: bool,
    /// The stored name: `#[user_enum(rename = "…")]` or the variant's name in snake case.
    name: String,
}

/// Expands `#[derive(UserEnum)]` on `item`. On an error the impls are emitted anyway beside the
/// errors, over the variants that can be stored (see [`expand`]), so a model that uses the enum
/// adds no error of its own; on an enum that has none, or generic parameters, the errors alone.
pub fn expand_user_enum(item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let input = match syn::parse2::<DeriveInput>(item) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let parsed = parse(&input, &mut errors);
    if let Some(parsed) = &parsed {
        check(parsed, &mut errors);
    }
    match parsed {
        Some(parsed) if errors.is_empty() => expand(&parsed),
        Some(parsed) if !parsed.variants.is_empty() && input.generics.params.is_empty() => {
            let mut expanded = expand(&parsed);
            expanded.extend(errors.to_compile_errors());
            expanded
        }
        _ => errors.to_compile_errors(),
    }
}

fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<UserEnum<'a>> {
    let Data::Enum(data) = &input.data else {
        errors.error_at(
            &input.ident,
            "#[derive(UserEnum)] goes on a fieldless enum, e.g. `enum Plan { Free, Pro }`",
        );
        return None;
    };
    if !input.generics.params.is_empty() {
        errors.error_at(
            &input.generics,
            "#[derive(UserEnum)] does not support generic parameters; remove them",
        );
    }
    let variants = data
        .variants
        .iter()
        .map(|variant| {
            if !matches!(variant.fields, Fields::Unit) {
                errors.error_at(
                    &variant.fields,
                    "a UserEnum variant carries no data: it is stored as its name; remove the fields",
                );
            }
            let mut rename = None;
            for attr in variant.attrs.iter().filter(|a| a.path().is_ident(USER_ENUM)) {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident(RENAME) {
                        rename = Some(meta.value()?.parse::<LitStr>()?.value());
                        Ok(())
                    } else {
                        Err(meta.error(
                            "unknown key; the valid key is `rename = \"stored_name\"`",
                        ))
                    }
                });
                if let Err(error) = result {
                    errors.push(error);
                }
            }
            Variant {
                ident: &variant.ident,
                data: !matches!(variant.fields, Fields::Unit),
                name: rename.unwrap_or_else(|| snake_case(&variant.ident.to_string())),
            }
        })
        .collect();
    Some(UserEnum {
        ident: &input.ident,
        variants,
    })
}

fn check(parsed: &UserEnum, errors: &mut Errors) {
    if parsed.variants.is_empty() {
        errors.error_at(
            parsed.ident,
            "a UserEnum needs at least one variant: a column of it could hold no value",
        );
    }
    for (i, variant) in parsed.variants.iter().enumerate() {
        if variant.name.is_empty() {
            errors.error_at(variant.ident, "the stored name cannot be empty");
        }
        if parsed.variants[..i].iter().any(|v| v.name == variant.name) {
            errors.error_at(
                variant.ident,
                format!(
                    "two variants are stored as \"{}\"; give one #[user_enum(rename = \"…\")]",
                    variant.name
                ),
            );
        }
    }
}

/// The impls. Of an enum with errors, only the first fieldless variant of each name can be read
/// back; every variant is still written as its name.
fn expand(parsed: &UserEnum) -> TokenStream {
    let user_enum = user_enum_impl(parsed);
    let diesel = diesel_impls(parsed.ident);
    quote! {
        const _: () = {
            #user_enum

            #diesel
        };
    }
}

/// The `users_diesel::UserEnum` impl: the stored names, each way.
fn user_enum_impl(parsed: &UserEnum) -> TokenStream {
    let ident = parsed.ident;
    let written = parsed.variants.iter().map(|variant| {
        let (name, variant_ident) = (&variant.name, variant.ident);
        let pattern = if variant.data {
            quote!(#ident::#variant_ident { .. })
        } else {
            quote!(#ident::#variant_ident)
        };
        quote!(#pattern => #name)
    });
    let mut stored: Vec<&Variant> = Vec::new();
    for variant in &parsed.variants {
        if !variant.data && stored.iter().all(|v| v.name != variant.name) {
            stored.push(variant);
        }
    }
    let names: Vec<&str> = stored.iter().map(|v| v.name.as_str()).collect();
    let variants: Vec<&Ident> = stored.iter().map(|v| v.ident).collect();
    quote! {
        #[automatically_derived]
        impl ::users_diesel::UserEnum for #ident {
            const VALUES: &'static [&'static str] = &[#(#names),*];

            fn as_str(&self) -> &'static str {
                match self {
                    #(#written,)*
                }
            }

            fn from_stored(value: &str) -> ::core::option::Option<Self> {
                match value {
                    #(#names => ::core::option::Option::Some(#ident::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// The enum as a Diesel expression, bind and result of `Text` (and its `Nullable`), through
/// its stored name.
fn diesel_impls(ident: &Ident) -> TokenStream {
    let diesel = quote!(::users_diesel::__private::diesel);
    let text = quote!(#diesel::sql_types::Text);
    let nullable_text = quote!(#diesel::sql_types::Nullable<#text>);
    let bound = quote!(#diesel::internal::derives::as_expression::Bound);
    let as_expression = [
        (quote!(), quote!(#ident)),
        (quote!(<'__expr>), quote!(&'__expr #ident)),
    ]
    .into_iter()
    .flat_map(|(generics, ty)| {
        [&text, &nullable_text].map(|sql| {
            quote! {
                #[automatically_derived]
                impl #generics #diesel::expression::AsExpression<#sql> for #ty {
                    type Expression = #bound<#sql, Self>;

                    fn as_expression(self) -> Self::Expression {
                        #bound::new(self)
                    }
                }
            }
        })
    });
    quote! {
            #(#as_expression)*

            #[automatically_derived]
            impl<__DB> #diesel::serialize::ToSql<#text, __DB> for #ident
            where
                __DB: #diesel::backend::Backend,
                str: #diesel::serialize::ToSql<#text, __DB>,
            {
                fn to_sql<'__b>(
                    &'__b self,
                    out: &mut #diesel::serialize::Output<'__b, '_, __DB>,
                ) -> #diesel::serialize::Result {
                    let name = ::users_diesel::UserEnum::as_str(self);
                    #diesel::serialize::ToSql::<#text, __DB>::to_sql(name, out)
                }
            }

            #[automatically_derived]
            impl<__DB> #diesel::serialize::ToSql<#nullable_text, __DB> for #ident
            where
                __DB: #diesel::backend::Backend,
                Self: #diesel::serialize::ToSql<#text, __DB>,
            {
                fn to_sql<'__b>(
                    &'__b self,
                    out: &mut #diesel::serialize::Output<'__b, '_, __DB>,
                ) -> #diesel::serialize::Result {
                    #diesel::serialize::ToSql::<#text, __DB>::to_sql(self, out)
                }
            }

            #[automatically_derived]
            impl<__DB> #diesel::deserialize::FromSql<#text, __DB> for #ident
            where
                __DB: #diesel::backend::Backend,
                ::std::string::String: #diesel::deserialize::FromSql<#text, __DB>,
            {
                fn from_sql(value: __DB::RawValue<'_>) -> #diesel::deserialize::Result<Self> {
                    ::users_diesel::__private::enum_from_stored(
                        <::std::string::String as #diesel::deserialize::FromSql<#text, __DB>>::from_sql(value)?,
                    )
                }
            }

            #[automatically_derived]
            impl<__DB, __ST> #diesel::deserialize::Queryable<__ST, __DB> for #ident
            where
                __DB: #diesel::backend::Backend,
                __ST: #diesel::sql_types::SingleValue,
                Self: #diesel::deserialize::FromSql<__ST, __DB>,
            {
                type Row = Self;

                fn build(row: Self) -> #diesel::deserialize::Result<Self> {
                    ::core::result::Result::Ok(row)
                }
            }
    }
}

/// `ProMonthly` → `pro_monthly`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_variants_in_snake_case_or_as_renamed() {
        let input: DeriveInput = syn::parse_quote! {
            enum Plan { Free, ProMonthly, #[user_enum(rename = "team")] Business }
        };
        let mut errors = Errors::default();
        let parsed = parse(&input, &mut errors).unwrap();
        let names: Vec<&str> = parsed.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["free", "pro_monthly", "team"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn refuses_data_and_duplicate_names() {
        let item = quote!(
            enum Plan {
                Free(u8),
                #[user_enum(rename = "free")]
                Gratis,
            }
        );
        let output = expand_user_enum(item).to_string();
        assert!(output.contains("carries no data"));
        assert!(output.contains("two variants are stored as"));
        // The impls come beside the errors: every variant written as its name, the fieldless
        // one read back.
        assert!(output.contains("impl :: users_diesel :: UserEnum for Plan"));
        assert!(output.contains("Plan :: Free { .. } => \"free\""));
        assert!(output.contains("\"free\" => :: core :: option :: Option :: Some (Plan :: Gratis)"));
    }
}
