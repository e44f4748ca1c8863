//! The pools of `users_diesel::asynchronous`: a checkout costs no validation round trip, and a
//! connection that broke is replaced rather than handed out again.

#![cfg(all(feature = "postgres", feature = "async"))]

use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::{postgres_connection_manager, RunQueryDsl};

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Last {
    #[diesel(sql_type = Text)]
    query: String,
}

/// The statement the backend `pid` ran last, as PostgreSQL reports it.
async fn last_statement(
    admin: &Pool<users_diesel::asynchronous::AsyncPgConnection>,
    pid: i32,
) -> String {
    let mut conn = admin.get().await.unwrap();
    diesel::sql_query("SELECT query FROM pg_stat_activity WHERE pid = $1")
        .bind::<Integer, _>(pid)
        .get_result::<Last>(&mut *conn)
        .await
        .unwrap()
        .query
}

#[tokio::test]
async fn checkouts_skip_the_ping_and_a_broken_connection_is_replaced() {
    let db = users_tests::postgres();
    let pool = Pool::builder(postgres_connection_manager(db.url()))
        .max_size(1)
        .build()
        .unwrap();
    let admin = Pool::builder(postgres_connection_manager(db.url()))
        .max_size(1)
        .build()
        .unwrap();
    let pid = {
        let mut conn = pool.get().await.unwrap();
        diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Pid>(&mut *conn)
            .await
            .unwrap()
            .pid
    };
    // Checked out and back three times: no statement of the pool's own reached the server
    // (diesel-async's default would have run `SELECT $1` on each checkout).
    for _ in 0..3 {
        drop(pool.get().await.unwrap());
    }
    assert_eq!(
        last_statement(&admin, pid).await,
        "SELECT pg_backend_pid() AS pid"
    );

    // The server ends the connection; the pool notices and hands out a new one.
    let mut conn = admin.get().await.unwrap();
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut conn = pool.get().await.unwrap();
    let new = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut *conn)
        .await
        .unwrap()
        .pid;
    assert_ne!(new, pid);
}
