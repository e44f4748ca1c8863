//! `#[erased(TRAIT)]`: an object-safe trait written as the inherent methods of its one
//! implementation, for users-axum's `PooledUsers` (the manager and its pool, with the role model
//! and the connection type erased).
//!
//! Internal to the framework (hidden from the docs), like `#[flavors]`.
//!
//! On `impl<…> Type<…> where … { fn…; async fn…; }` with the trait's header as argument (as in
//! `pub(crate) trait PooledUsers<U: UserModel>: Send + Sync + 'static {}`), it emits the trait,
//! holding each method's signature and docs, and its implementation for `Type`. An `async fn m<'a>(&'a
//! self, …) -> T` becomes `fn m<'a>(&'a self, …) -> Pin<Box<dyn Future<Output = T> + Send +
//! 'a>>` in both, its body boxed, so that the trait stays usable as `dyn`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericParam, ImplItem, ItemImpl, ItemTrait, ReturnType, TraitItem};

/// Expands `#[erased(TRAIT)]` on `item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut erased: ItemTrait = syn::parse2(attr)?;
    let block: ItemImpl = syn::parse2(item)?;
    if let Some((_, path, _)) = &block.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "`#[erased]` goes on an inherent impl block: the trait is the attribute's",
        ));
    }
    let mut methods = Vec::new();
    for item in &block.items {
        let ImplItem::Fn(method) = item else {
            return Err(syn::Error::new_spanned(
                item,
                "an `#[erased]` block holds only methods",
            ));
        };
        let mut method = method.clone();
        if method.sig.asyncness.take().is_some() {
            let lifetime = method
                .sig
                .generics
                .params
                .iter()
                .find_map(|param| match param {
                    GenericParam::Lifetime(param) => Some(param.lifetime.clone()),
                    _ => None,
                })
                .ok_or_else(|| {
                    syn::Error::new_spanned(
                        &method.sig,
                        "an async `#[erased]` method names the lifetime of its future: \
                         `async fn name<'a>(&'a self, …)`",
                    )
                })?;
            let output = match &method.sig.output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            method.sig.output = syn::parse_quote!(
                -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = #output> + Send + #lifetime>>
            );
            let body = &method.block;
            method.block = syn::parse_quote!({ Box::pin(async move #body) });
        }
        let attrs = &method.attrs;
        let sig = &method.sig;
        erased
            .items
            .push(TraitItem::Verbatim(quote!(#(#attrs)* #sig;)));
        methods.push(method);
    }
    let name = &erased.ident;
    let params = erased.generics.params.iter().map(|param| match param {
        GenericParam::Type(param) => {
            let ident = &param.ident;
            quote!(#ident)
        }
        GenericParam::Lifetime(param) => {
            let lifetime = &param.lifetime;
            quote!(#lifetime)
        }
        GenericParam::Const(param) => {
            let ident = &param.ident;
            quote!(#ident)
        }
    });
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let self_ty = &block.self_ty;
    let attrs = &block.attrs;
    Ok(quote! {
        #erased

        #(#attrs)*
        impl #impl_generics #name<#(#params),*> for #self_ty #where_clause {
            #(#methods)*
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_methods_return_boxed_futures() {
        let out = expand(
            quote!(
                pub(crate) trait Ops<U: Model>: Send + Sync {}
            ),
            quote! {
                impl<U: Model, C> Pooled<U, C> {
                    /// The settings.
                    fn config(&self) -> &Config {
                        &self.config
                    }

                    /// Finds one.
                    #[cfg(feature = "x")]
                    async fn find<'a>(&'a self, id: U::Id) -> Result<U, Error> {
                        let conn = self.conn().await?;
                        Ok(find(conn, id).await?)
                    }
                }
            },
        )
        .unwrap();
        let file: syn::File = syn::parse2(out).unwrap();
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }

    #[test]
    fn an_async_method_names_its_lifetime() {
        let error = expand(
            quote!(
                trait Ops {}
            ),
            quote! {
                impl Pooled {
                    async fn find(&self) -> u8 { 1 }
                }
            },
        )
        .err()
        .map(|e| e.to_string());
        assert!(error.unwrap().contains("`async fn name<'a>(&'a self, …)`"));
    }
}
