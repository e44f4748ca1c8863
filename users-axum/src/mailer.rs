//! Delivering verification and reset tokens: the [`Mailer`] trait an application implements
//! (with its email service), and two implementations for development and tests.

use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use users_diesel::{SecurityEvent, UserModel};

use crate::BoxFuture;

/// What a [`Mail`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A token for `POST /auth/verify`, sent after registration and on
    /// `POST /auth/request-verify` to the account's address, and after an email change request
    /// to the new address ([`Mail::pending_email`]), which becomes the account's once the token
    /// is used.
    Verification,
    /// A token for `POST /auth/reset-password`, sent on `POST /auth/forgot-password`.
    PasswordReset,
    /// No token: tells the account's current address that a change to
    /// [`Mail::pending_email`] was requested (with the password), so that its owner can react
    /// if it was not them (reset the password, which kills the pending change's token).
    EmailChangeNotice,
    /// No token: tells the account's address what happened to the account
    /// ([`Mail::event`]): a sign-in from a client it had not used, a password change, a removed
    /// second factor or passkey, a linked provider, as [`Notices`](crate::Notices) chooses.
    SecurityNotice,
    /// A token for `POST /invitations/accept`, sent on `POST /orgs/{org_id}/invitations` to the
    /// invited address ([`Mail::to`]); [`Mail::user`] is the inviter, [`Mail::org`] the
    /// organization's name.
    Invitation,
}

/// A message for a user: which kind, to which address, about whom, and the token to put in it
/// (typically in a link to the application's front end).
#[derive(Clone)]
pub struct Mail<U> {
    /// What the message is for.
    pub kind: MailKind,
    /// The address to send it to: `user.email()`, except for the verification of a pending
    /// new address, which goes to that address.
    pub to: String,
    /// The user the message is about.
    pub user: U,
    /// The token; empty for an [`MailKind::EmailChangeNotice`]. Keep it out of logs.
    pub token: String,
    /// For the mails of an email change, the address the account is changing to.
    pub pending_email: Option<String>,
    /// For a [`MailKind::SecurityNotice`], what happened (its kind, client, user agent, detail).
    pub event: Option<SecurityEvent>,
    /// For a [`MailKind::Invitation`], the organization's name.
    pub org: Option<String>,
}

impl<U: UserModel> Mail<U> {
    /// A mail of `kind` carrying `token` to the user's own address.
    pub fn to_user(kind: MailKind, user: U, token: String) -> Self {
        Mail {
            kind,
            to: user.email().to_owned(),
            user,
            token,
            pending_email: None,
            event: None,
            org: None,
        }
    }

    /// A [`MailKind::Invitation`] to `to` from the inviter `user` to join the organization
    /// named `org`.
    pub fn invitation(user: U, to: String, org: String, token: String) -> Self {
        Mail {
            to,
            org: Some(org),
            ..Mail::to_user(MailKind::Invitation, user, token)
        }
    }

    /// A [`MailKind::SecurityNotice`] to the user's own address about `event`.
    pub fn notice(user: U, event: SecurityEvent) -> Self {
        Mail {
            event: Some(event),
            ..Mail::to_user(MailKind::SecurityNotice, user, String::new())
        }
    }
}

impl<U: UserModel> fmt::Debug for Mail<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("pending_email", &self.pending_email)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// Sends the tokens the routes make: the application's email (or other) delivery.
///
/// The routes never return a token in a response. They hand it to the mailer in a task of its
/// own and answer at once, so that `forgot-password` and `request-verify` take the same time
/// whether or not a message is sent; a failure is logged with [`tracing`] and not reported to
/// the client.
///
/// ```
/// use users_axum::{BoxFuture, Mail, Mailer};
/// use users_diesel::UserModel;
///
/// struct Smtp;
///
/// impl<U: UserModel> Mailer<U> for Smtp {
///     fn send(&self, mail: Mail<U>) -> BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>> {
///         Box::pin(async move {
///             let link = format!("https://app.example.com/verify#{}", mail.token);
///             // … send `link` to mail.to with your email library …
///             # drop(link);
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait Mailer<U>: Send + Sync + 'static {
    /// Delivers `mail`.
    fn send(&self, mail: Mail<U>) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>>;
}

/// A mailer for development: prints each message, token included, to standard output.
///
/// Never use it in production: anyone who reads the output can take over the accounts.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogMailer;

impl<U: UserModel> Mailer<U> for LogMailer {
    fn send(&self, mail: Mail<U>) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>> {
        let to = &mail.to;
        match mail.kind {
            MailKind::Verification => {
                println!(
                    "[mail to {to}] verification token (POST /auth/verify): {}",
                    mail.token
                );
            }
            MailKind::PasswordReset => println!(
                "[mail to {to}] password reset token (POST /auth/reset-password): {}",
                mail.token
            ),
            MailKind::Invitation => println!(
                "[mail to {to}] invitation token (POST /invitations/accept): {}",
                mail.token
            ),
            MailKind::EmailChangeNotice => println!(
                "[mail to {to}] email change notice: a change of this account's address to {} \
                 was requested",
                mail.pending_email.as_deref().unwrap_or_default()
            ),
            MailKind::SecurityNotice => {
                if let Some(event) = &mail.event {
                    println!(
                        "[mail to {to}] security notice: {} (client {}, {})",
                        event.kind,
                        event.client.as_deref().unwrap_or("unknown"),
                        event.detail.as_deref().unwrap_or("no detail")
                    );
                }
            }
        }
        Box::pin(async { Ok(()) })
    }
}

/// A mailer for tests: keeps every message in memory. Clones share the messages, so keep a
/// clone to read what the routes sent.
pub struct MemoryMailer<U> {
    sent: Arc<Mutex<Vec<Mail<U>>>>,
}

impl<U: UserModel> MemoryMailer<U> {
    /// A mailer that has sent nothing yet.
    pub fn new() -> Self {
        MemoryMailer {
            sent: Arc::default(),
        }
    }

    /// Every message sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail<U>> {
        self.lock().clone()
    }

    /// The token of the latest message of `kind` sent to `email`, if there is one.
    pub fn latest_token(&self, email: &str, kind: MailKind) -> Option<String> {
        self.lock()
            .iter()
            .rev()
            .find(|mail| mail.kind == kind && mail.to == email)
            .map(|mail| mail.token.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Mail<U>>> {
        // A panic elsewhere while pushing leaves the list intact.
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<U: UserModel> Default for MemoryMailer<U> {
    fn default() -> Self {
        MemoryMailer::new()
    }
}

impl<U> Clone for MemoryMailer<U> {
    fn clone(&self) -> Self {
        MemoryMailer {
            sent: Arc::clone(&self.sent),
        }
    }
}

impl<U: UserModel> fmt::Debug for MemoryMailer<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryMailer")
            .field("sent", &self.lock().len())
            .finish()
    }
}

impl<U: UserModel> Mailer<U> for MemoryMailer<U> {
    fn send(&self, mail: Mail<U>) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>> {
        self.lock().push(mail);
        Box::pin(async { Ok(()) })
    }
}
