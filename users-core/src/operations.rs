//! Every operation of the managers, written once: the sequence of store calls (load, decide,
//! write, run a hook, inside one transaction where more than one step is involved) that
//! [`Users`](crate::Users) runs over a [`UserStore`](crate::UserStore) and `AsyncUsers` over an
//! `AsyncUserStore`.
//!
//! Each operation is an ordinary method, written once in the async form in an `impl AsyncUsers`
//! block of a submodule (`users`, `roles`, `sessions`, `factors`, `oauth`, `events`) marked
//! `#[flavors(AsyncUsers => Users, …)]`. That attribute (`users_derive::flavors`) emits the
//! block as written for `AsyncUsers` (with the `async` feature) and once more for `Users`, with
//! the names of its list renamed, no `async` and no `.await`. The decisions between the store
//! calls are the plain methods of `manager/decisions.rs`, reached through `self.decisions()`.
//!
//! Where the flavors differ by more than `.await`, a helper macro here takes the flavor
//! (written `flavor` in the source, `sync` or `async` once emitted) as its first token:
//!
//! - `transaction!`: a block run in a store transaction, as the boxed future the async stores
//!   take in the async flavor;
//! - `hashing!`: a decision that costs argon2 work, run once the argon2 gate lets it in, and
//!   sent with copies of the inputs it names to Tokio's blocking pool in the async flavor, so a
//!   burst of logins does not stall the executor;
//! - `blocking!`: a step of the throttle, whose store may block, sent to the blocking pool in
//!   the async flavor;
//! - `connect!` and `lend!`: a connection for the next step, from a
//!   [`Connections`](crate::Connections) source (`AsyncConnections`, awaited, in the async
//!   flavor);
//! - `recorded!`: a store step and the security event it makes, in one transaction where the
//!   manager records events, and alone, with no transaction, where it does not.
//!
//! No argon2 run happens inside a transaction: `new_hash!` loads the row, hashes, then reloads
//! it locked and stores the hash only if the row's hash is still the loaded one. An operation
//! that hashes is marked `#[over(/// docs… fn name_over(conn: impl AsyncConnections<C>))]`,
//! which makes two methods of one body: one over `&mut C`, and its `…_over` twin over a
//! connection source, which holds no connection while argon2 runs. In the one over `&mut C`,
//! the connection is lent again for each step by a plain wrapper (`lend!`) rather than through
//! the source trait, so that its future is `Send` wherever it was before (a generic associated
//! type in an async fn's state trips rust-lang/rust#110338 in callers generic over the
//! connection).
//!
//! A new operation is one more method in one of those blocks; both managers get it.

/// One connection, to be lent again for each step of an `#[over(...)]` method's body.
macro_rules! lend {
    (sync, $conn:expr) => {
        $crate::connections::Lend($conn)
    };
    (async, $conn:expr) => {
        $crate::connections::AsyncLend($conn)
    };
}

/// A store call, or a call of another operation: awaited in the async flavor.
macro_rules! step {
    (sync, $call:expr) => {
        $call
    };
    (async, $call:expr) => {
        $call.await
    };
}

/// A connection from `$connections` for the next database step (see
/// [`Connections`](crate::Connections)); it goes back when dropped.
macro_rules! connect {
    ($flavor:tt, $connections:expr) => {
        step!($flavor, $connections.connection())?
    };
}

/// Runs `$body` in a transaction of the user store over `$conn`, which it sees as `$inner`:
/// committed if it returns `Ok`, rolled back otherwise.
macro_rules! transaction {
    (sync, $conn:expr, |$inner:ident| $body:block) => {
        U::transaction($conn, move |$inner| $body)
    };
    (async, $conn:expr, |$inner:ident| $body:block) => {
        U::transaction($conn, move |$inner| {
            ::scoped_futures::ScopedFutureExt::scope_boxed(async move { $body })
        })
        .await
    };
}

/// Runs a decision that costs an argon2 run on the manager's [`Users`](crate::Users), which it
/// sees as `$users`, once the argon2 gate ([`Argon2Gate`](crate::Argon2Gate)) has let it in. In
/// the async flavor it runs on Tokio's blocking pool, which needs `'static` inputs: each of
/// `[$copy]` (a `&str`) is copied for it, into memory wiped when the task ends.
macro_rules! hashing {
    ($flavor:tt, $manager:expr, [$($copy:ident),*], |$users:ident| $decision:expr) => {
        blocking!($flavor, $manager, [$($copy),*], |$users| {
            let _slot = $users.hasher().gate().enter()?;
            $decision
        })
    };
}

/// Runs a step that may block (a throttle store's) on the manager's [`Users`](crate::Users),
/// which it sees as `$users`: on Tokio's blocking pool in the async flavor, with copies of
/// `[$copy]` as `hashing!` makes them.
macro_rules! blocking {
    (sync, $manager:expr, [$($copy:ident),*], |$users:ident| $step:expr) => {{
        let $users = $manager.decisions();
        $step
    }};
    (async, $manager:expr, [$($copy:ident),*], |$users:ident| $step:expr) => {{
        $(let $copy = $crate::async_manager::secret($copy);)*
        $manager
            .blocking(move |$users| {
                $(let $copy: &str = &$copy;)*
                $step
            })
            .await
    }};
}

/// The guarded check ([`Users::check_guard`](crate::Users::check_guard), then
/// [`Users::count_guard`](crate::Users::count_guard)) around `$check`, a proof of kind
/// `$proof` for the account `$account` (an `Option<&str>`, the normalised email) from `$client`:
/// refused while locked out, its failure counted, its success forgiving the account's failures
/// of that kind. Evaluates to the check's result.
macro_rules! guarded {
    ($flavor:tt, $self:ident, $proof:expr, $account:expr, $client:expr, $check:expr) => {{
        let keys = $self.decisions().guard_keys($proof, $account, $client);
        let checked = keys.clone();
        blocking!($flavor, $self, [], |users| users.check_guard(&checked))?;
        let outcome = $check;
        let settled = keys.settled(&outcome);
        blocking!($flavor, $self, [], |users| users
            .settle_guard(&keys, settled))?;
        outcome
    }};
}

/// Gives user `$id` a new password hash without running argon2 in a transaction or holding a
/// connection of `$connections`: loads the row (`$loaded`, an `Option`) and gives the
/// connection back, lets the `hashing!` decision `$hash` turn it into the user with the new
/// hash, then, in one transaction on a connection taken again, reloads the row locked, lets
/// `$edit` (an `Option` of a closure) change its other fields (stored as `update` stores them),
/// stores the new hash on it provided its hash is still the loaded one (else `$stale`, if
/// `Some`, is the error), and runs `$hook` on the stored row, in the transaction (its
/// connection `$inner`). Written
/// `new_hash!(flavor, users, conn, id, |loaded| hash, edit, stale, |conn, updated| hook)`.
macro_rules! new_hash {
    (
        $flavor:tt, $decisions:expr, $connections:expr, $id:expr,
        |$loaded:ident| $hash:expr,
        $edit:expr,
        $stale:expr,
        |$inner:ident, $updated:ident| $hook:expr $(,)?
    ) => {{
        let id = $id;
        let $loaded = step!($flavor, U::find(&mut *connect!($flavor, $connections), id))?;
        let loaded_hash = $loaded.as_ref().map(|user| user.password_hash().to_owned());
        let hashed: U = $hash?;
        let decisions = $decisions;
        let edit = $edit;
        modify!(
            $flavor,
            &mut *connect!($flavor, $connections),
            id,
            |stored| decisions.with_new_hash(stored, edit, loaded_hash.as_deref(), &hashed, $stale),
            |$inner, $updated| $hook,
        )
    }};
}

/// In one transaction: loads user `$id` with its row locked, lets `$decide` turn it (an
/// `Option`, `None` if there is no such user) into the row to store, stores that and runs
/// `$hook` on the stored row, with the transaction's connection as `$inner`.
macro_rules! modify {
    (
        $flavor:tt, $conn:expr, $id:expr,
        |$stored:ident| $decide:expr,
        |$inner:ident, $updated:ident| $hook:expr $(,)?
    ) => {{
        let id = $id;
        transaction!($flavor, $conn, |$inner| {
            let $stored = step!($flavor, U::find_for_update($inner, id))?;
            let user = $decide?;
            let $updated = step!($flavor, U::update($inner, &user))?;
            $hook?;
            Ok($updated)
        })
    }};
}

/// Runs the store step `$body` (a `Result`, with `$inner` the connection) and, if the manager
/// `$users` records events and `$worth` (with `$out` a reference to the step's value) says the
/// step did something, records `$event` in the same transaction; then publishes it. Without
/// recording, the step runs alone, with no transaction around it.
macro_rules! recorded {
    (
        $flavor:tt, $users:expr, $conn:expr, $event:expr,
        |$inner:ident| $body:expr,
        |$out:ident| $worth:expr $(,)?
    ) => {{
        let users = $users;
        let event: $crate::SecurityEvent = $event;
        let recorded = &event;
        let value = if users.records_events() {
            transaction!($flavor, &mut *$conn, |$inner| {
                let value = $body?;
                let $out = &value;
                if $worth {
                    step!($flavor, Self::record($inner, users, recorded))?;
                }
                Ok(value)
            })?
        } else {
            let $inner = &mut *$conn;
            $body?
        };
        let $out = &value;
        if $worth {
            users.publish(event);
        }
        value
    }};
}

/// Records the attempt `$event` (which changes nothing else) on a connection taken from
/// `$connections` only if the manager stores events, and publishes it: a login takes no
/// connection for an event it does not store.
macro_rules! note_over {
    ($flavor:tt, $self:ident, $connections:expr, $event:expr) => {{
        let users = $self.decisions();
        let event: $crate::SecurityEvent = $event;
        if users.records_events() {
            step!(
                $flavor,
                Self::record(&mut *connect!($flavor, $connections), users, &event)
            )?;
        }
        users.publish(event);
    }};
}

mod events;
mod factors;
mod oauth;
mod orgs;
mod permissions;
mod roles;
mod sessions;
mod users;
