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
