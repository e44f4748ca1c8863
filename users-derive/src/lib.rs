//! placeholder
use proc_macro::TokenStream;
/// placeholder
#[proc_macro_attribute]
pub fn user_model(_attr: TokenStream, item: TokenStream) -> TokenStream { item }
