//! `#[test_cases(path::to::tests_macro)]`: the test bodies of a suite written as ordinary
//! functions in an inline module, which rustfmt formats and editors see into, and handed to a
//! macro that runs each on every backend (`users_tests::backend_tests!`,
//! `users_tests::manager_tests!`).
//!
//! ```ignore
//! #[test_cases(manager_tests)]
//! mod cases {
//!     fn registers(conn: _, db: _) {
//!         migrate(db);
//!         let users = drive(manager());
//!         users.register(conn, "a@example.com", "a long password").unwrap();
//!     }
//! }
//! ```
//!
//! The module is only a frame: it is not emitted, and its functions become
//! `manager_tests! { fn registers(conn, db) { … } }`. Each function takes the two names the
//! macro binds (`_` for their types, which the macro decides per backend and manager), has no
//! attributes but comments, and returns nothing.

use proc_macro::TokenStream;
use quote::quote;
use syn::{FnArg, Item, ItemMod, Pat, Path, ReturnType};

/// Hands the functions of an inline module to the tests macro at the attribute's path; see the
/// crate docs.
#[proc_macro_attribute]
pub fn test_cases(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let tests: Path = syn::parse2(attr)?;
    let module: ItemMod = syn::parse2(item)?;
    let Some((_, items)) = module.content else {
        return Err(syn::Error::new_spanned(
            &module.ident,
            "write the test cases in an inline module: `mod cases { … }`",
        ));
    };
    let mut cases = Vec::with_capacity(items.len());
    for item in items {
        let Item::Fn(case) = item else {
            return Err(syn::Error::new_spanned(
                item,
                "only test functions go in a `#[test_cases]` module: put helpers beside it",
            ));
        };
        if let Some(attr) = case.attrs.first() {
            return Err(syn::Error::new_spanned(
                attr,
                "a test case takes no attributes",
            ));
        }
        if !matches!(case.sig.output, ReturnType::Default) {
            return Err(syn::Error::new_spanned(
                &case.sig.output,
                "a test case returns nothing",
            ));
        }
        let names = case
            .sig
            .inputs
            .iter()
            .map(|input| match input {
                FnArg::Typed(typed) => match &*typed.pat {
                    Pat::Ident(name) => Ok(name.ident.clone()),
                    other => Err(syn::Error::new_spanned(other, "name the argument")),
                },
                FnArg::Receiver(receiver) => Err(syn::Error::new_spanned(
                    receiver,
                    "a test case takes no `self`",
                )),
            })
            .collect::<syn::Result<Vec<_>>>()?;
        let name = &case.sig.ident;
        let body = &case.block;
        cases.push(quote!(fn #name(#(#names),*) #body));
    }
    Ok(quote!(#tests! { #(#cases)* }))
}
