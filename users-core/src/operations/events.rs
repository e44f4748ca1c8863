//! The security-event operations of the managers, written once: reading an account's history
//! (or everyone's), deleting old events, and the recording every other operation does through
//! [`record`](crate::Users::record) and [`note`](crate::Users::note). The parent module
//! describes the flavors; `crate::events` the events.

use std::time::SystemTime;

use users_derive::flavors;

#[cfg(feature = "async")]
use crate::{AsyncEventStore, AsyncUsers};
use crate::{
    EventQuery, EventStore, RoleModel, SecurityEvent, SignIns, UserModel, Users, UsersError,
    MAX_PAGE_SIZE,
};

#[flavors(
    AsyncUsers => Users,
    AsyncEventStore => EventStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// The security events `query` selects, newest first, at most `query.limit` (1 to
    /// [`MAX_PAGE_SIZE`]): an account's history (`user_id`), or everyone's for an
    /// administrator. The next page is the one `before` the last event's id.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn events<C: Send>(
        &self,
        conn: &mut C,
        query: &EventQuery,
    ) -> Result<Vec<SecurityEvent>, UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        let mut query = query.clone();
        query.limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        U::Events::events(conn, &query).await
    }

    /// `user`'s sign-ins as their kept history tells them: how many, and the last one's time
    /// and client ([`SignIns`]).
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn sign_ins<C: Send>(&self, conn: &mut C, user: &U) -> Result<SignIns, UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        let query = EventQuery {
            user_id: Some(user.id().into()),
            kinds: SignIns::KINDS.to_vec(),
            limit: 1,
            ..EventQuery::default()
        };
        let count = U::Events::count_events(conn, &query).await?;
        let last = U::Events::events(conn, &query).await?.into_iter().next();
        Ok(SignIns {
            count,
            last_at: last.as_ref().map(|event| event.at),
            last_client: last.and_then(|event| event.client),
        })
    }

    /// Deletes the security events older than `before` (a retention period); how many.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn delete_events_before<C: Send>(
        &self,
        conn: &mut C,
        before: SystemTime,
    ) -> Result<usize, UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        U::Events::delete_events_before(conn, before).await
    }

    /// Writes `event` to the model's event store if `users` records events: a failure that
    /// repeats one stored within its minute from the same client adds to that one's count.
    /// Called on the connection of the transaction of the change the event records; the
    /// caller publishes it once that committed.
    pub(crate) async fn record<C: Send>(
        conn: &mut C,
        users: &Users<U, R>,
        event: &SecurityEvent,
    ) -> Result<(), UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        if !users.records_events() {
            return Ok(());
        }
        let stamped;
        let event = match users.stamps() {
            true => {
                stamped = users.stamped(event.clone());
                &stamped
            }
            false => event,
        };
        if event.kind.is_failure()
            && U::Events::repeat_event(conn, event, event.window_start()).await?
        {
            return Ok(());
        }
        U::Events::insert_event(conn, event).await
    }

    /// Records `event` on its own (an attempt, which changes nothing else) and publishes it.
    pub(crate) async fn note<C: Send>(
        &self,
        conn: &mut C,
        event: SecurityEvent,
    ) -> Result<(), UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        Self::record(conn, users, &event).await?;
        users.publish(event);
        Ok(())
    }
}
