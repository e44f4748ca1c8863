//! One route as the router mounts it and the OpenAPI document describes it: its handler and its
//! description together, so that a route can be neither mounted undocumented nor documented
//! unmounted. Each area's module lists its own with `endpoints()`; [`crate::router`] mounts the
//! list, [`crate::openapi()`] describes it.

use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use utoipa::openapi::HttpMethod;

use crate::{ErrorCode, Profile, UsersState};

pub(crate) use Access::{Admin, Anyone, Session};
pub(crate) use Method::{Delete, Get, Patch, Post};

/// The methods the routes take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    /// As HTTP writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Get => "GET",
            Post => "POST",
            Patch => "PATCH",
            Delete => "DELETE",
        }
    }

    /// As the router matches it.
    fn filter(self) -> MethodFilter {
        match self {
            Get => MethodFilter::GET,
            Post => MethodFilter::POST,
            Patch => MethodFilter::PATCH,
            Delete => MethodFilter::DELETE,
        }
    }

    /// As the OpenAPI document names it.
    pub(crate) fn openapi(self) -> HttpMethod {
        match self {
            Get => HttpMethod::Get,
            Post => HttpMethod::Post,
            Patch => HttpMethod::Patch,
            Delete => HttpMethod::Delete,
        }
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone: no session.
    Anyone,
    /// A session of an active user.
    Session,
    /// A session of an active user with the administrators' role; the router puts these
    /// behind [`UsersState::require_role`].
    Admin,
}

/// One route as the document describes it.
pub(crate) struct Doc {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) access: Access,
    /// The request body's schema, if the route takes one.
    pub(crate) body: Option<&'static str>,
    /// The success status, its description and the answer's schema (none: an empty answer).
    pub(crate) ok: (u16, &'static str, Option<&'static str>),
    /// The refusals particular to the route, by status; those of every route with a body, a
    /// path parameter or a session are added to them.
    pub(crate) errors: &'static [(u16, &'static [ErrorCode])],
    /// The query parameters the route reads, if any ([`Doc::with_query`]).
    pub(crate) query: Option<fn() -> Vec<QueryParameter>>,
}

/// A query parameter as the document describes it: its name, its schema and what it means.
pub(crate) type QueryParameter = (
    &'static str,
    utoipa::openapi::schema::ObjectBuilder,
    &'static str,
);

impl Doc {
    /// The same route, reading the query parameters `query` lists.
    pub(crate) const fn with_query(mut self, query: fn() -> Vec<QueryParameter>) -> Doc {
        self.query = Some(query);
        self
    }
}

/// A route's description, its members in order.
pub(crate) const fn route(
    method: Method,
    path: &'static str,
    summary: &'static str,
    access: Access,
    body: Option<&'static str>,
    ok: (u16, &'static str, Option<&'static str>),
    errors: &'static [(u16, &'static [ErrorCode])],
) -> Doc {
    Doc {
        method,
        path,
        summary,
        access,
        body,
        ok,
        errors,
        query: None,
    }
}

/// A route: its handler, for the method its description names, and its description.
pub(crate) struct Endpoint<U: Profile> {
    pub(crate) handler: MethodRouter<UsersState<U>>,
    pub(crate) doc: Doc,
}

/// The route `doc` describes, answered by `handler`.
pub(crate) fn endpoint<U, H, T>(handler: H, doc: Doc) -> Endpoint<U>
where
    U: Profile,
    H: Handler<T, UsersState<U>>,
    T: 'static,
{
    Endpoint {
        handler: on(doc.method.filter(), handler),
        doc,
    }
}
