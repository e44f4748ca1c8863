//! The two equivalent schemas the workloads run on: the framework's, declared with the macros,
//! and a hand-written one with the same columns, types, constraints and indexes.

/// The framework's models: what an application writes.
pub mod framework {
    use users_diesel::prelude::*;

    /// A user with one custom column.
    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
    }

    /// A role; `#[role_model]` also writes the `user_roles` join table.
    #[role_model]
    pub struct Role {}
}

/// The same schema written by hand: `table!`, derives and DDL, as a careful engineer would.
///
/// Its tables are named `hand_users`, `hand_roles` and `hand_user_roles` in SQL, so that they sit
/// beside the framework's in the same database and are used over the same connection (see
/// [`crate::db`]); in Rust they keep the plain names.
///
/// The column types are the framework's portable ones (`Id<T>` over a UUID stored natively on
/// PostgreSQL and as 16 bytes elsewhere): they are column types, not query paths, and sharing
/// them makes the two sides store exactly the same bytes.
pub mod hand {
    use diesel::prelude::*;
    use users_diesel::Id;

    diesel::table! {
        use diesel::sql_types::*;
        use users_diesel::sql_types::Uuid;

        #[sql_name = "hand_users"]
        users (id) {
            id -> Uuid,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
            display_name -> Nullable<Text>,
        }
    }

    diesel::table! {
        use diesel::sql_types::*;
        use users_diesel::sql_types::Uuid;

        #[sql_name = "hand_roles"]
        roles (id) {
            id -> Uuid,
            name -> Text,
            description -> Nullable<Text>,
        }
    }

    diesel::table! {
        use users_diesel::sql_types::Uuid;

        #[sql_name = "hand_user_roles"]
        user_roles (user_id, role_id) {
            user_id -> Uuid,
            role_id -> Uuid,
        }
    }

    diesel::joinable!(user_roles -> users (user_id));
    diesel::joinable!(user_roles -> roles (role_id));
    diesel::allow_tables_to_appear_in_same_query!(users, roles, user_roles);

    /// A row of `users`.
    #[derive(Queryable, Selectable, Insertable, AsChangeset, Identifiable, Clone, Debug)]
    #[diesel(table_name = users)]
    pub struct HandUser {
        pub id: Id<HandUser>,
        pub email: String,
        pub password_hash: String,
        pub is_active: bool,
        pub is_verified: bool,
        pub display_name: Option<String>,
    }

    /// A row of `roles`.
    #[derive(Queryable, Selectable, Insertable, Identifiable, Clone, Debug)]
    #[diesel(table_name = roles)]
    pub struct HandRole {
        pub id: Id<HandRole>,
        pub name: String,
        pub description: Option<String>,
    }

    /// A row of `user_roles`.
    #[derive(Queryable, Selectable, Insertable, Identifiable, Associations, Clone, Copy, Debug)]
    #[diesel(table_name = user_roles, primary_key(user_id, role_id))]
    #[diesel(belongs_to(HandUser, foreign_key = user_id), belongs_to(HandRole, foreign_key = role_id))]
    pub struct HandUserRole {
        pub user_id: Id<HandUser>,
        pub role_id: Id<HandRole>,
    }

    /// The DDL of the three tables, in one backend's spelling: the same types, primary keys,
    /// UNIQUE constraints, foreign keys and index as the framework's migrations, under names
    /// prefixed `hand_`.
    pub fn ddl(uuid: &str, email: &str, name: &str, table_options: &str) -> String {
        format!(
            "CREATE TABLE hand_users (
                id {uuid} NOT NULL,
                email {email} NOT NULL,
                password_hash TEXT NOT NULL,
                is_active BOOLEAN NOT NULL DEFAULT TRUE,
                is_verified BOOLEAN NOT NULL DEFAULT FALSE,
                display_name TEXT,
                PRIMARY KEY (id),
                CONSTRAINT hand_users_email_key UNIQUE (email)
            ){table_options};
            CREATE TABLE hand_roles (
                id {uuid} NOT NULL,
                name {name} NOT NULL,
                description TEXT,
                PRIMARY KEY (id),
                CONSTRAINT hand_roles_name_key UNIQUE (name)
            ){table_options};
            CREATE TABLE hand_user_roles (
                user_id {uuid} NOT NULL,
                role_id {uuid} NOT NULL,
                PRIMARY KEY (user_id, role_id),
                CONSTRAINT hand_user_roles_user_id_fkey FOREIGN KEY (user_id)
                    REFERENCES hand_users (id) ON DELETE CASCADE,
                CONSTRAINT hand_user_roles_role_id_fkey FOREIGN KEY (role_id)
                    REFERENCES hand_roles (id) ON DELETE CASCADE
            ){table_options};
            CREATE INDEX hand_user_roles_role_id_idx ON hand_user_roles (role_id);"
        )
    }

    /// The hand-written queries, one impl per backend's connection type (Diesel queries are
    /// checked per backend, so hand-written multi-backend code is stamped out the same way).
    pub trait HandStore {
        /// `INSERT INTO users …`.
        fn insert_user(&mut self, user: &HandUser) -> QueryResult<()>;
        /// `SELECT … FROM users WHERE id = ?` (no `LIMIT`, as the framework: see the README).
        fn user_by_id(&mut self, id: Id<HandUser>) -> QueryResult<Option<HandUser>>;
        /// `SELECT … FROM users WHERE email = ?`.
        fn user_by_email(&mut self, email: &str) -> QueryResult<Option<HandUser>>;
        /// `INSERT INTO roles …`.
        fn insert_role(&mut self, role: &HandRole) -> QueryResult<()>;
        /// `INSERT INTO user_roles … ON CONFLICT DO NOTHING` (idempotent, like the framework's).
        fn assign(&mut self, user: Id<HandUser>, role: Id<HandRole>) -> QueryResult<()>;
        /// `SELECT EXISTS (… user_roles JOIN roles WHERE user_id = ? AND name = ?)`.
        fn has_role(&mut self, user: Id<HandUser>, name: &str) -> QueryResult<bool>;
        /// The user's roles, by name.
        fn roles_of(&mut self, user: Id<HandUser>) -> QueryResult<Vec<HandRole>>;
        /// The roles of each user, in one query (`belonging_to` + `grouped_by`).
        fn roles_of_users(&mut self, users: &[HandUser]) -> QueryResult<Vec<Vec<HandRole>>>;
    }

    macro_rules! hand_store {
        ($feature:literal, $connection:ty, $($on_conflict:tt)*) => {
            #[cfg(feature = $feature)]
            impl HandStore for $connection {
                fn insert_user(&mut self, user: &HandUser) -> QueryResult<()> {
                    diesel::insert_into(users::table).values(user).execute(self).map(drop)
                }

                fn user_by_id(&mut self, id: Id<HandUser>) -> QueryResult<Option<HandUser>> {
                    users::table
                        .find(id)
                        .select(HandUser::as_select())
                        .get_result(self)
                        .optional()
                }

                fn user_by_email(&mut self, email: &str) -> QueryResult<Option<HandUser>> {
                    users::table
                        .filter(users::email.eq(email))
                        .select(HandUser::as_select())
                        .get_result(self)
                        .optional()
                }

                fn insert_role(&mut self, role: &HandRole) -> QueryResult<()> {
                    diesel::insert_into(roles::table).values(role).execute(self).map(drop)
                }

                fn assign(&mut self, user: Id<HandUser>, role: Id<HandRole>) -> QueryResult<()> {
                    diesel::insert_into(user_roles::table)
                        .values(HandUserRole { user_id: user, role_id: role })
                        $($on_conflict)*
                        .execute(self)
                        .map(drop)
                }

                fn has_role(&mut self, user: Id<HandUser>, name: &str) -> QueryResult<bool> {
                    diesel::select(diesel::dsl::exists(
                        user_roles::table
                            .inner_join(roles::table)
                            .filter(user_roles::user_id.eq(user))
                            .filter(roles::name.eq(name)),
                    ))
                    .get_result(self)
                }

                fn roles_of(&mut self, user: Id<HandUser>) -> QueryResult<Vec<HandRole>> {
                    user_roles::table
                        .inner_join(roles::table)
                        .filter(user_roles::user_id.eq(user))
                        .select(HandRole::as_select())
                        .order(roles::name)
                        .load(self)
                }

                fn roles_of_users(&mut self, users: &[HandUser]) -> QueryResult<Vec<Vec<HandRole>>> {
                    // In chunks, as the framework reads them: SQLite binds at most 32,766 values.
                    let mut grouped = Vec::with_capacity(users.len());
                    for users in users.chunks(10_000) {
                        let rows: Vec<(HandUserRole, HandRole)> = HandUserRole::belonging_to(users)
                            .inner_join(roles::table)
                            .select((HandUserRole::as_select(), HandRole::as_select()))
                            .order(roles::name)
                            .load(self)?;
                        grouped.extend(
                            rows.grouped_by(users)
                                .into_iter()
                                .map(|rows| rows.into_iter().map(|(_, role)| role).collect()),
                        );
                    }
                    Ok(grouped)
                }
            }
        };
    }

    hand_store!("sqlite", diesel::SqliteConnection, .on_conflict_do_nothing());
    hand_store!("postgres", diesel::PgConnection, .on_conflict_do_nothing());
    // MySQL has no ON CONFLICT: Diesel's spelling of "do nothing" there, as the framework's.
    hand_store!("mysql", diesel::MysqlConnection, .on_conflict(diesel::dsl::DuplicatedKeys).do_nothing());
}
