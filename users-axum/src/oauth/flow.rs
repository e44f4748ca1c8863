//! A provider flow: discovery, the authorization request, the sealed state, the code's
//! exchange and the ID token's checks, and the HTTP client the providers are reached with.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Instant, SystemTime};

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use users_diesel::{ProviderIdentity, ProviderTokens, Sealer, UsersConfig, UsersError};

use super::{
    Kind, OAuthProvider, OAuthSettings, Purpose, DISCOVERY_LIFETIME, FLOW_LIFETIME,
    MIN_REDISCOVERY, PROVIDER_TIMEOUT, STATE_COOKIE,
};
use crate::session::cookie_value;
use crate::{ApiError, ErrorCode};

/// The providers, ready: checked settings, the HTTP client, the sealer of flow states, and the
/// discovery documents fetched so far.
pub(crate) struct OAuth {
    providers: HashMap<String, Configured>,
    pub(super) after_sign_in: Option<String>,
    http: Http,
    sealer: Sealer,
}

/// One provider, checked.
pub(super) struct Configured {
    provider: OAuthProvider,
    redirect: RedirectUrl,
    /// The discovery document (with the keys) of an OpenID Connect provider, and when it was
    /// fetched.
    discovered: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl OAuth {
    /// Checks `settings`: a public URL, provider names fit for a route and a column and each
    /// used once, URLs that parse.
    pub(crate) fn new(settings: OAuthSettings, config: &UsersConfig) -> Result<OAuth, UsersError> {
        let bad = |what: String| UsersError::config("oauth", what);
        reqwest::Url::parse(&settings.public_url)
            .map_err(|error| bad(format!("public URL {:?}: {error}", settings.public_url)))?;
        let mut providers = HashMap::new();
        for provider in settings.providers {
            let name = provider.name.clone();
            let valid = !name.is_empty()
                && name.len() <= users_diesel::MAX_PROVIDER_BYTES
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(bad(format!(
                    "provider name {name:?}: use lower-case letters, digits, `-` and `_`"
                )));
            }
            let urls: Vec<&str> = match &provider.kind {
                Kind::Oidc { issuer } => vec![issuer],
                Kind::GitHub {
                    authorize_url,
                    token_url,
                    api_url,
                } => vec![authorize_url, token_url, api_url],
            };
            for url in urls {
                reqwest::Url::parse(url)
                    .map_err(|error| bad(format!("{name}: URL {url:?}: {error}")))?;
            }
            let redirect =
                RedirectUrl::new(format!("{}/auth/{name}/callback", settings.public_url))
                    .map_err(|error| bad(format!("{name}: redirect URI: {error}")))?;
            let configured = Configured {
                provider,
                redirect,
                discovered: Mutex::new(None),
            };
            if providers.insert(name.clone(), configured).is_some() {
                return Err(bad(format!("provider {name:?} is configured twice")));
            }
        }
        // No redirects: a provider's endpoint that redirects is not followed anywhere (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .user_agent(concat!("users-axum/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| bad(format!("HTTP client: {error}")))?;
        Ok(OAuth {
            providers,
            after_sign_in: settings.after_sign_in,
            http: Http(http),
            sealer: Sealer::new(config),
        })
    }

    /// The provider called `name`, or 404.
    pub(super) fn provider(&self, name: &str) -> Result<&Configured, ApiError> {
        self.providers.get(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no provider is called {name:?} here"),
            )
        })
    }

    /// The provider's discovery document, fetched if there is none younger than
    /// [`DISCOVERY_LIFETIME`] (or, `fresh`, none younger than a minute).
    pub(super) async fn metadata(
        &self,
        configured: &Configured,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, ApiError> {
        let Kind::Oidc { issuer } = &configured.provider.kind else {
            return Err(ApiError::logged(
                &"discovery of a provider without an issuer",
            ));
        };
        let mut discovered = configured.discovered.lock().await;
        if let Some((at, metadata)) = &*discovered {
            // Fetched again when old, or when asked, but at most once a minute: ID tokens with
            // unknown keys do not make every callback call the provider.
            let age = at.elapsed();
            if age < DISCOVERY_LIFETIME && (!fresh || age < MIN_REDISCOVERY) {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(issuer.clone())
            .map_err(|error| provider_down(&configured.provider.name, &error))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|error| provider_down(&configured.provider.name, &error))?;
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// The OpenID Connect client of `configured` over `metadata`.
    pub(super) fn oidc_client(
        configured: &Configured,
        metadata: CoreProviderMetadata,
    ) -> OidcClient {
        let provider = &configured.provider;
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_redirect_uri(configured.redirect.clone())
    }

    /// The GitHub client of `configured`.
    pub(super) fn github_client(configured: &Configured) -> Result<GitHubClient, ApiError> {
        let provider = &configured.provider;
        let Kind::GitHub {
            authorize_url,
            token_url,
            ..
        } = &provider.kind
        else {
            return Err(ApiError::logged(
                &"a GitHub client of an OpenID Connect provider",
            ));
        };
        // Checked by `OAuth::new`.
        let url = |error: openidconnect::url::ParseError| ApiError::logged(&error);
        Ok(
            oauth2::basic::BasicClient::new(ClientId::new(provider.client_id.clone()))
                .set_client_secret(ClientSecret::new(provider.client_secret.clone()))
                .set_auth_uri(AuthUrl::new(authorize_url.clone()).map_err(url)?)
                .set_token_uri(TokenUrl::new(token_url.clone()).map_err(url)?)
                .set_redirect_uri(configured.redirect.clone()),
        )
    }

    /// A flow's start: the authorization URL, and the `Set-Cookie` with its sealed state.
    pub(super) async fn start(
        &self,
        configured: &Configured,
        purpose: Purpose,
    ) -> Result<(String, HeaderValue), ApiError> {
        let provider = &configured.provider;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = match &provider.kind {
            Kind::Oidc { .. } => {
                let client = Self::oidc_client(configured, self.metadata(configured, false).await?);
                // `openid` is the flow's own scope: the request asks for it already.
                let scopes = provider.scopes.iter().filter(|scope| *scope != "openid");
                let (url, state, nonce) = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        CsrfToken::new_random,
                        Nonce::new_random,
                    )
                    .add_scopes(scopes.cloned().map(Scope::new))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, state, Some(nonce.secret().clone()))
            }
            Kind::GitHub { .. } => {
                let (url, state) = Self::github_client(configured)?
                    .authorize_url(CsrfToken::new_random)
                    .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, state, None)
            }
        };
        let flow = Flow {
            provider: provider.name.clone(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
            purpose,
        };
        let sealed = crate::sealed::seal(&self.sealer, FLOW_CONTEXT, &flow, FLOW_LIFETIME)?;
        Ok((
            url.to_string(),
            self.cookie(&sealed, FLOW_LIFETIME.as_secs()),
        ))
    }

    /// The `Set-Cookie` of the flow state `value`, or (empty, zero age) the one that clears it.
    pub(super) fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let cookie = format!(
            "{STATE_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax; Secure"
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The flow the callback `parts` finishes, checked against its query: the cookie opens, is
    /// for this provider, has not expired, and its `state` is the query's.
    pub(super) fn flow(
        &self,
        configured: &Configured,
        parts: &Parts,
        query: &Callback,
    ) -> Result<Flow, ApiError> {
        let refused = |why: &str| {
            tracing::debug!("users-axum: an oauth callback was refused: {why}");
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidState,
                "this sign-in was not started in this browser, or took too long: start again",
            )
        };
        let sealed = cookie_value(parts, STATE_COOKIE).ok_or_else(|| refused("no state cookie"))?;
        let flow: Flow = crate::sealed::open(&self.sealer, FLOW_CONTEXT, sealed)
            .ok_or_else(|| refused("the cookie does not open, or the flow expired"))?;
        if flow.provider != configured.provider.name {
            return Err(refused("the flow is another provider's"));
        }
        let state = query.state.as_deref().unwrap_or("");
        if !bool::from(state.as_bytes().ct_eq(flow.state.as_bytes())) {
            return Err(refused("the state is not the cookie's"));
        }
        Ok(flow)
    }

    /// What the provider vouches for, from the callback's code: exchanged with the flow's PKCE
    /// verifier; for OpenID Connect, the ID token validated; for GitHub, the person and address
    /// from its API.
    pub(super) async fn identity(
        &self,
        configured: &Configured,
        flow: &Flow,
        query: &Callback,
    ) -> Result<ProviderIdentity, ApiError> {
        let provider = &configured.provider;
        let code = query
            .code
            .clone()
            .ok_or_else(|| refused_by_provider("the provider sent no code"))?;
        let (subject, email, email_verified, tokens) = match &provider.kind {
            Kind::Oidc { .. } => self.oidc_identity(configured, flow, query, code).await?,
            Kind::GitHub { api_url, .. } => {
                self.github_identity(configured, api_url, flow, code)
                    .await?
            }
        };
        Ok(ProviderIdentity {
            provider: provider.name.clone(),
            subject,
            email,
            email_verified,
            tokens,
        })
    }

    /// An OpenID Connect provider's answer, checked: the code exchanged with the verifier, the
    /// ID token's signature (refetching the keys once if the provider rotated them), issuer,
    /// audience, expiry and nonce.
    async fn oidc_identity(
        &self,
        configured: &Configured,
        flow: &Flow,
        query: &Callback,
        code: String,
    ) -> Result<Claimed, ApiError> {
        let provider = &configured.provider;
        let metadata = self.metadata(configured, false).await?;
        // RFC 9207: an `iss` that is not this provider's is a mix-up.
        if query
            .iss
            .as_deref()
            .is_some_and(|iss| iss != metadata.issuer().as_str())
        {
            return Err(refused_by_provider("the answer names another issuer"));
        }
        let client = Self::oidc_client(configured, metadata.clone());
        let answer = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|error| ApiError::logged(&error))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|error| token_refused(&provider.name, &error))?;
        let id_token = answer
            .id_token()
            .ok_or_else(|| refused_by_provider("the provider sent no ID token"))?;
        let nonce = Nonce::new(flow.nonce.clone().unwrap_or_default());
        let claims: CoreIdTokenClaims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // A key the cached document lacks: the provider rotated its keys.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = Self::oidc_client(configured, self.metadata(configured, true).await?);
                let verifier = client.id_token_verifier();
                let claims = id_token
                    .claims(&verifier, &nonce)
                    .map_err(id_token_refused)?;
                claims.clone()
            }
            Err(error) => return Err(id_token_refused(error)),
        };
        let tokens = provider.keep_tokens.then(|| provider_tokens(&answer));
        let email = claims.email().map(|email| email.as_str().to_owned());
        let verified = claims.email_verified().unwrap_or(false);
        Ok((
            claims.subject().as_str().to_owned(),
            email,
            verified,
            tokens,
        ))
    }

    /// GitHub's answer: the code exchanged with the verifier, then the user and their primary
    /// address from its API.
    async fn github_identity(
        &self,
        configured: &Configured,
        api_url: &str,
        flow: &Flow,
        code: String,
    ) -> Result<Claimed, ApiError> {
        let provider = &configured.provider;
        let client = Self::github_client(configured)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|error| token_refused(&provider.name, &error))?;
        let token = answer.access_token().secret();
        let person: GitHubUser = self
            .github_api(&provider.name, api_url, "user", token)
            .await?;
        let emails: Vec<GitHubEmail> = self
            .github_api(&provider.name, api_url, "user/emails", token)
            .await?;
        let primary = emails.iter().find(|email| email.primary);
        let tokens = provider.keep_tokens.then(|| provider_tokens(&answer));
        Ok((
            person.id.to_string(),
            primary.map(|email| email.email.clone()),
            primary.is_some_and(|email| email.verified),
            tokens,
        ))
    }

    /// `GET {api}/{path}` of GitHub's REST API with the user's access token.
    pub(super) async fn github_api<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        api: &str,
        path: &str,
        token: &str,
    ) -> Result<T, ApiError> {
        let url = format!("{}/{path}", api.trim_end_matches('/'));
        let answer = self
            .http
            .0
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| provider_down(name, &error))?;
        answer
            .json()
            .await
            .map_err(|error| provider_down(name, &error))
    }
}

/// The OpenID Connect client type `from_provider_metadata` makes, with a redirect URI.
pub(super) type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The GitHub client type, with its endpoints set.
pub(super) type GitHubClient = oauth2::basic::BasicClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the flow state is sealed for.
const FLOW_CONTEXT: &[u8] = b"oauth flow";

/// What a provider says of the person: subject, address, whether it verified the address, and
/// the tokens to keep.
type Claimed = (String, Option<String>, bool, Option<ProviderTokens>);

/// A flow's state, sealed in the browser's cookie between the authorization request and the
/// callback.
#[derive(Serialize, Deserialize)]
pub(super) struct Flow {
    provider: String,
    state: String,
    nonce: Option<String>,
    verifier: String,
    pub(super) purpose: Purpose,
}

/// The callback's query.
#[derive(Deserialize, Default)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    pub(super) error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
pub(super) struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// The HTTP client of the calls to providers, which follows no redirects, as the crates'
/// `AsyncHttpClient`.
pub(super) struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut outgoing = self
                .0
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let answer = outgoing.send().await.map_err(HttpError)?;
            let mut response = openidconnect::http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            let body = answer.bytes().await.map_err(HttpError)?;
            Ok(response
                .body(body.to_vec())
                .expect("a status and headers from a response make a response"))
        })
    }
}

/// The HTTP client's error, for the crates' `AsyncHttpClient`.
#[derive(Debug)]
pub(super) struct HttpError(reqwest::Error);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HttpError {}

/// The tokens of a token answer, to keep.
pub(super) fn provider_tokens(answer: &impl OAuth2TokenResponse) -> ProviderTokens {
    ProviderTokens {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer.refresh_token().map(|token| token.secret().clone()),
        expires_at: answer.expires_in().map(|left| SystemTime::now() + left),
    }
}

/// The provider could not be reached, or answered nonsense: 502.
pub(super) fn provider_down(name: &str, error: &dyn fmt::Display) -> ApiError {
    tracing::warn!("users-axum: the provider {name:?} failed: {error}");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::ProviderUnavailable,
        format!("the provider {name:?} could not be reached or gave an unusable answer"),
    )
}

/// The provider's answer is refused: 400 `oauth_refused`.
pub(super) fn refused_by_provider(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::OauthRefused,
        format!("the sign-in was refused: {why}"),
    )
}

/// The token endpoint refused the code (a wrong or missing PKCE verifier, a code used or
/// stolen) or could not be reached.
pub(super) fn token_refused<E: std::error::Error + 'static>(
    name: &str,
    error: &RequestTokenError<E, StandardErrorResponse<oauth2::basic::BasicErrorResponseType>>,
) -> ApiError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            tracing::debug!("users-axum: the provider {name:?} refused a code: {answer}");
            refused_by_provider("the provider refused the authorization code")
        }
        error => provider_down(name, error),
    }
}

/// The ID token does not check out: signature, issuer, audience, expiry or nonce.
pub(super) fn id_token_refused(error: ClaimsVerificationError) -> ApiError {
    tracing::debug!("users-axum: an ID token was refused: {error}");
    refused_by_provider("the ID token is invalid")
}

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;

    use super::*;
    use crate::oauth::GITHUB_API;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn providers_come_from_the_environment() {
        assert!(OAuthSettings::from_vars(vars(&[])).unwrap().is_none());
        let settings = OAuthSettings::from_vars(vars(&[
            ("USERS_PUBLIC_URL", "https://app.example.com/"),
            ("USERS_OAUTH_PROVIDERS", "corp, github"),
            ("USERS_OAUTH_CORP_ISSUER", "https://id.example.com"),
            ("USERS_OAUTH_CORP_CLIENT_ID", "app"),
            ("USERS_OAUTH_CORP_CLIENT_SECRET", "s3cret"),
            ("USERS_OAUTH_CORP_SCOPES", "profile"),
            ("USERS_OAUTH_GITHUB_CLIENT_ID", "gh"),
            ("USERS_OAUTH_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("USERS_OAUTH_GITHUB_KEEP_TOKENS", "1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.public_url, "https://app.example.com");
        let [corp, github] = &settings.providers[..] else {
            panic!("two providers")
        };
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert!(matches!(&corp.kind, Kind::Oidc { issuer } if issuer == "https://id.example.com"));
        assert!(github.keep_tokens && !corp.keep_tokens);
        assert!(matches!(&github.kind, Kind::GitHub { api_url, .. } if api_url == GITHUB_API));
        // A missing variable is named.
        let error = OAuthSettings::from_vars(vars(&[
            ("USERS_PUBLIC_URL", "https://app.example.com"),
            ("USERS_OAUTH_PROVIDERS", "corp"),
            ("USERS_OAUTH_CORP_CLIENT_ID", "app"),
            ("USERS_OAUTH_CORP_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("USERS_OAUTH_CORP_ISSUER"),
            "{error}"
        );
    }

    #[test]
    fn settings_are_checked() {
        let config = UsersConfig::new([1u8; 32]).unwrap();
        let provider = || OAuthProvider::oidc("corp", "https://id.example.com", "app", "s3cret");
        let ok = OAuthSettings::new("https://app.example.com").provider(provider());
        let oauth = OAuth::new(ok, &config).unwrap();
        let cookie = oauth.cookie("v", 60);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with("__Host-users_oauth=v; Path=/;"),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; Secure") && !cookie.contains("Domain"),
            "{cookie}"
        );
        assert_eq!(
            oauth.providers["corp"].redirect.as_str(),
            "https://app.example.com/auth/corp/callback"
        );
        for bad in [
            OAuthSettings::new("not a url").provider(provider()),
            OAuthSettings::new("https://app.example.com")
                .provider(provider())
                .provider(provider()),
            OAuthSettings::new("https://app.example.com").provider(provider().named("Corp/1")),
            OAuthSettings::new("https://app.example.com")
                .provider(OAuthProvider::oidc("corp", "nowhere", "app", "s3cret")),
        ] {
            assert!(matches!(
                OAuth::new(bad, &config),
                Err(UsersError::Config(_))
            ));
        }
    }

    #[test]
    fn a_flow_state_opens_only_unaltered_and_for_its_provider() {
        let config = UsersConfig::new([1u8; 32]).unwrap();
        let settings = OAuthSettings::new("http://127.0.0.1:1")
            .provider(OAuthProvider::github("gh", "secret"))
            .provider(OAuthProvider::github("gh2", "secret").named("other"));
        let oauth = OAuth::new(settings, &config).unwrap();
        let flow = Flow {
            provider: "github".into(),
            state: "the-state".into(),
            nonce: None,
            verifier: "v".repeat(43),
            purpose: Purpose::SignIn,
        };
        let sealed =
            crate::sealed::seal(&oauth.sealer, FLOW_CONTEXT, &flow, FLOW_LIFETIME).unwrap();
        let parts = |cookie: &str| {
            let request = axum::http::Request::builder()
                .header(COOKIE, format!("a=b; {STATE_COOKIE}={cookie}"))
                .body(())
                .unwrap();
            request.into_parts().0
        };
        let query = |state: &str| Callback {
            state: Some(state.into()),
            ..Callback::default()
        };
        let github = &oauth.providers["github"];
        assert!(oauth
            .flow(github, &parts(&sealed), &query("the-state"))
            .is_ok());
        for (provider, cookie, state) in [
            (github, &*sealed, "another-state"),
            (github, &sealed[1..], "the-state"),
            (&oauth.providers["other"], &*sealed, "the-state"),
        ] {
            let Err(error) = oauth.flow(provider, &parts(cookie), &query(state)) else {
                panic!("{state} was let through");
            };
            assert_eq!(error.code(), "invalid_state");
        }
    }
}
