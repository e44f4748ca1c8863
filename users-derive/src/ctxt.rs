//! Collects every error of one item, so the user sees them all in one compile.

use std::collections::HashSet;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// Errors found so far while reading one annotated item.
#[derive(Default)]
pub struct Errors {
    errors: Vec<Reported>,
}

/// One error: where to blame, what is wrong, and the list of what is valid, if any.
struct Reported {
    blame: Blame,
    message: String,
    help: Option<&'static str>,
}

/// The tokens an error underlines.
enum Blame {
    Tokens(TokenStream),
    Span(Span),
}

impl Blame {
    fn start(&self) -> (usize, usize) {
        let span = match self {
            Blame::Tokens(tokens) => tokens
                .clone()
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |token| token.span()),
            Blame::Span(span) => *span,
        };
        let start = span.start();
        (start.line, start.column)
    }
}

impl Errors {
    /// Records an error spanned at `tokens`.
    pub fn error_at(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.report(Blame::Tokens(tokens.into_token_stream()), message, None);
    }

    /// Records an error spanned at `tokens` that ends with a list of what is valid, `help`,
    /// which the errors of one item print once.
    pub fn error_with_help(
        &mut self,
        tokens: impl ToTokens,
        message: impl Display,
        help: impl Into<Option<&'static str>>,
    ) {
        self.report(
            Blame::Tokens(tokens.into_token_stream()),
            message,
            help.into(),
        );
    }

    /// Records an error as it is.
    pub fn push(&mut self, error: syn::Error) {
        self.report(Blame::Span(error.span()), error, None);
    }

    /// Records an error followed by `help`, like [`Errors::error_with_help`].
    pub fn push_with_help(&mut self, error: syn::Error, help: &'static str) {
        self.report(Blame::Span(error.span()), error, Some(help));
    }

    fn report(&mut self, blame: Blame, message: impl Display, help: Option<&'static str>) {
        self.errors.push(Reported {
            blame,
            message: message.to_string(),
            help,
        });
    }

    /// Whether nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// All errors as `compile_error!` invocations, in source order, each list of what is valid
    /// printed with the first error that needs it only.
    pub fn to_compile_errors(&self) -> TokenStream {
        let mut errors: Vec<&Reported> = self.errors.iter().collect();
        errors.sort_by_key(|error| error.blame.start());
        let mut printed = HashSet::new();
        errors
            .into_iter()
            .map(|error| {
                let message = match error.help {
                    Some(help) if printed.insert(help) => format!("{}; {help}", error.message),
                    Some(_) => format!("{}; see the list above", error.message),
                    None => error.message.clone(),
                };
                let error = match &error.blame {
                    Blame::Tokens(tokens) => syn::Error::new_spanned(tokens, message),
                    Blame::Span(span) => syn::Error::new(*span, message),
                };
                error.to_compile_error()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_in_source_order_each_list_of_what_is_valid_once() {
        let tokens: Vec<_> = "first second third"
            .parse::<TokenStream>()
            .unwrap()
            .into_iter()
            .collect();
        let mut errors = Errors::default();
        errors.error_with_help(&tokens[2], "third is wrong", "valid are a and b");
        errors.error_at(&tokens[1], "second is wrong");
        errors.error_with_help(&tokens[0], "first is wrong", "valid are a and b");
        let text = errors.to_compile_errors().to_string();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        assert!(at("first is wrong; valid are a and b") < at("second is wrong"));
        assert!(at("second is wrong") < at("third is wrong; see the list above"));
        assert_eq!(text.matches("valid are a and b").count(), 1);
    }
}
