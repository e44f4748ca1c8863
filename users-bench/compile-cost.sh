#!/usr/bin/env bash
# Compile cost of the macros: a crate of 20 annotated models against a crate of the same 20
# models written by hand in Diesel, each built from clean with every dependency prebuilt.
#
#   bash users-bench/compile-cost.sh            # 3 builds of each, the median kept
#   REPS=5 BACKENDS=sqlite bash users-bench/compile-cost.sh
#   KEEP=1 GENERATE_ONLY=1 bash users-bench/compile-cost.sh   # just write the two crates, and keep them
#
# The annotated crate: 16 `#[user_model]`s with three custom fields each (every `#[column]` key,
# every mapped type, a quarter with `timestamps`) and 4 `#[role_model]`s with their join tables.
#
# The hand-written crate has, for the same 20 models, what the macros emit that an application
# would otherwise write: each `table!` (and the join tables, `joinable!`,
# `allow_tables_to_appear_in_same_query!`), each struct with the same Diesel derives,
# `check_for_backend` and `treat_none_as_null`, a redacting `Debug` for users (derived for roles)
# and, per enabled backend, a module of the same queries the generated stores run (users: insert,
# find, find_for_update, find_by_email, update, delete; roles: insert, find, find_by_name,
# update, delete, assign, revoke, has_role, has_any_role, count_roles_named, roles_of,
# roles_of_users, users_with_role). It returns Diesel's `QueryResult` where the stores map errors
# to `UsersError`, and it has no `UserModel`/`RoleModel` impls and no `ModelSchema` (its DDL would
# live in `.sql` files, which cost no compile time). Both crates use users-diesel's `Id` and
# portable `Uuid` column type, so they store the same bytes.
#
# Both are built in the dev profile (what a developer waits for), without incremental
# compilation, alternating, after one build of everything so the measurement is the crate alone.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
reps="${REPS:-3}"
backends="${BACKENDS:-sqlite,postgres,mysql}"
work="$(mktemp -d "${TMPDIR:-/tmp}/users-compile-cost.XXXXXX")"
if [[ -n "${KEEP:-}" ]]; then
  echo "the generated crates stay in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
export CARGO_TARGET_DIR="$work/target" CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never

IFS=',' read -r -a enabled <<<"$backends"
checks=()
features=()
for backend in "${enabled[@]}"; do
  case "$backend" in
    sqlite) checks+=("diesel::sqlite::Sqlite") ;;
    postgres) checks+=("diesel::pg::Pg") ;;
    mysql) checks+=("diesel::mysql::Mysql") ;;
    *) echo "unknown backend $backend (sqlite, postgres, mysql)" >&2 && exit 2 ;;
  esac
  features+=("\"$backend\"")
done
check_for_backend="check_for_backend($(IFS=','; echo "${checks[*]}"))"
feature_list="$(IFS=','; echo "${features[*]}")"

connection() {
  case "$1" in
    sqlite) echo "diesel::sqlite::SqliteConnection" ;;
    postgres) echo "diesel::pg::PgConnection" ;;
    mysql) echo "diesel::mysql::MysqlConnection" ;;
  esac
}

# The custom fields: (annotated field, `table!` column, hand-written struct field).
ann_fields=(
  'pub display_name: Option<String>,'
  '#[column(default = 0)] pub login_count: i32,'
  '#[column(unique, max_length = 32)] pub handle: String,'
  '#[column(index)] pub team: Option<String>,'
  'pub score: f64,'
  'pub avatar: Option<Vec<u8>>,'
  '#[column(name = "given_name")] pub first_name: Option<String>,'
  'pub age: Option<i16>,'
  '#[column(default = 100)] pub balance: i64,'
  'pub last_seen: Option<chrono::NaiveDateTime>,'
)
columns=(
  'display_name -> Nullable<Text>,'
  'login_count -> Integer,'
  'handle -> Text,'
  'team -> Nullable<Text>,'
  'score -> Double,'
  'avatar -> Nullable<Binary>,'
  'given_name -> Nullable<Text>,'
  'age -> Nullable<SmallInt>,'
  'balance -> BigInt,'
  'last_seen -> Nullable<Timestamp>,'
)
hand_fields=(
  'pub display_name: Option<String>,'
  'pub login_count: i32,'
  'pub handle: String,'
  'pub team: Option<String>,'
  'pub score: f64,'
  'pub avatar: Option<Vec<u8>>,'
  '#[diesel(column_name = given_name)] pub first_name: Option<String>,'
  'pub age: Option<i16>,'
  'pub balance: i64,'
  'pub last_seen: Option<chrono::NaiveDateTime>,'
)
field_names=(display_name login_count handle team score avatar first_name age balance last_seen)
users=16
roles=4

crate_manifest() {
  cat <<EOF
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
users-diesel = { path = "$repo/users-diesel", default-features = false, features = [$feature_list] }
diesel = { version = "2.3", default-features = false, features = ["32-column-tables", "with-deprecated", "chrono", $feature_list] }
chrono = { version = "0.4.38", default-features = false, features = ["clock", "std"] }
EOF
}

fields_of() { echo "$(($1 % 10)) $((($1 + 3) % 10)) $((($1 + 7) % 10))"; }
has_timestamps() { (($1 % 4 == 0)); }

annotated() {
  echo '#![allow(missing_docs)]'
  echo 'use users_diesel::prelude::*;'
  for ((i = 0; i < users; i++)); do
    local options="table = \"users_$i\""
    has_timestamps "$i" && options+=", timestamps"
    echo "#[user_model($options)]"
    echo "pub struct User$i {"
    for k in $(fields_of "$i"); do echo "    ${ann_fields[$k]}"; done
    echo "}"
  done
  for ((r = 0; r < roles; r++)); do
    echo "#[role_model(table = \"roles_$r\", join_table = \"user_roles_$r\", user = User$r)]"
    echo "pub struct Role$r { #[column(default = 0)] pub priority: i32 }"
  done
}

hand_user_queries() { # model index, backend
  local i="$1" lock=""
  [[ "$2" != sqlite ]] && lock=".for_update()"
  local update_result="Ok(user.clone())" insert_prepare="" update_prepare=""
  if has_timestamps "$i"; then
    insert_prepare="let now = chrono::Utc::now().naive_utc(); let user = &User$i { created_at: now, updated_at: now, ..user.clone() };"
    update_prepare="let user = &User$i { updated_at: chrono::Utc::now().naive_utc(), ..user.clone() };"
    update_result="users_$i::table.find(user.id).select(User$i::as_select()).get_result(conn)"
  fi
  cat <<EOF
pub mod user${i}_$2 {
    use super::*;
    type Conn = $(connection "$2");

    pub fn insert(conn: &mut Conn, user: &User$i) -> QueryResult<User$i> {
        $insert_prepare
        diesel::insert_into(users_$i::table).values(user).execute(conn)?;
        Ok(user.clone())
    }
    pub fn find(conn: &mut Conn, id: Id<User$i>) -> QueryResult<Option<User$i>> {
        users_$i::table.find(id).select(User$i::as_select()).get_result(conn).optional()
    }
    pub fn find_for_update(conn: &mut Conn, id: Id<User$i>) -> QueryResult<Option<User$i>> {
        users_$i::table.find(id).select(User$i::as_select())$lock.get_result(conn).optional()
    }
    pub fn find_by_email(conn: &mut Conn, email: &str) -> QueryResult<Option<User$i>> {
        users_$i::table.filter(users_$i::email.eq(email)).select(User$i::as_select()).get_result(conn).optional()
    }
    pub fn update(conn: &mut Conn, user: &User$i) -> QueryResult<User$i> {
        $update_prepare
        diesel::update(users_$i::table.find(user.id)).set(user).execute(conn)?;
        $update_result
    }
    pub fn delete(conn: &mut Conn, id: Id<User$i>) -> QueryResult<bool> {
        diesel::delete(users_$i::table.find(id)).execute(conn).map(|n| n > 0)
    }
}
EOF
}

hand_role_queries() { # role index, backend
  local r="$1" conflict=".on_conflict_do_nothing()"
  [[ "$2" == mysql ]] && conflict=".on_conflict(diesel::dsl::DuplicatedKeys).do_nothing()"
  cat <<EOF
pub mod role${r}_$2 {
    use super::*;
    type Conn = $(connection "$2");

    pub fn insert(conn: &mut Conn, role: &Role$r) -> QueryResult<Role$r> {
        diesel::insert_into(roles_$r::table).values(role).execute(conn)?;
        Ok(role.clone())
    }
    pub fn find(conn: &mut Conn, id: Id<Role$r>) -> QueryResult<Option<Role$r>> {
        roles_$r::table.find(id).select(Role$r::as_select()).get_result(conn).optional()
    }
    pub fn find_by_name(conn: &mut Conn, name: &str) -> QueryResult<Option<Role$r>> {
        roles_$r::table.filter(roles_$r::name.eq(name)).select(Role$r::as_select()).get_result(conn).optional()
    }
    pub fn update(conn: &mut Conn, role: &Role$r) -> QueryResult<Role$r> {
        diesel::update(roles_$r::table.find(role.id)).set(role).execute(conn)?;
        Ok(role.clone())
    }
    pub fn delete(conn: &mut Conn, id: Id<Role$r>) -> QueryResult<bool> {
        diesel::delete(roles_$r::table.find(id)).execute(conn).map(|n| n > 0)
    }
    pub fn assign(conn: &mut Conn, user: Id<User$r>, role: Id<Role$r>) -> QueryResult<()> {
        diesel::insert_into(user_roles_$r::table)
            .values(UserRole$r { user_id: user, role_id: role })
            $conflict
            .execute(conn)
            .map(drop)
    }
    pub fn revoke(conn: &mut Conn, user: Id<User$r>, role: Id<Role$r>) -> QueryResult<bool> {
        diesel::delete(user_roles_$r::table.find((user, role))).execute(conn).map(|n| n > 0)
    }
    pub fn has_role(conn: &mut Conn, user: Id<User$r>, name: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            user_roles_$r::table.inner_join(roles_$r::table)
                .filter(user_roles_$r::user_id.eq(user))
                .filter(roles_$r::name.eq(name)),
        ))
        .get_result(conn)
    }
    pub fn has_any_role(conn: &mut Conn, user: Id<User$r>, names: &[&str]) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            user_roles_$r::table.inner_join(roles_$r::table)
                .filter(user_roles_$r::user_id.eq(user))
                .filter(roles_$r::name.eq_any(names.iter().copied())),
        ))
        .get_result(conn)
    }
    pub fn count_roles_named(conn: &mut Conn, user: Id<User$r>, names: &[&str]) -> QueryResult<i64> {
        user_roles_$r::table.inner_join(roles_$r::table)
            .filter(user_roles_$r::user_id.eq(user))
            .filter(roles_$r::name.eq_any(names.iter().copied()))
            .count()
            .get_result(conn)
    }
    pub fn roles_of(conn: &mut Conn, user: Id<User$r>) -> QueryResult<Vec<Role$r>> {
        user_roles_$r::table.inner_join(roles_$r::table)
            .filter(user_roles_$r::user_id.eq(user))
            .select(Role$r::as_select())
            .order(roles_$r::name)
            .load(conn)
    }
    pub fn roles_of_users(conn: &mut Conn, users: &[User$r]) -> QueryResult<Vec<Vec<Role$r>>> {
        let rows: Vec<(UserRole$r, Role$r)> = UserRole$r::belonging_to(users)
            .inner_join(roles_$r::table)
            .select((UserRole$r::as_select(), Role$r::as_select()))
            .order(roles_$r::name)
            .load(conn)?;
        Ok(rows.grouped_by(users).into_iter().map(|r| r.into_iter().map(|(_, role)| role).collect()).collect())
    }
    pub fn users_with_role(conn: &mut Conn, name: &str) -> QueryResult<Vec<User$r>> {
        user_roles_$r::table
            .inner_join(users_$r::table)
            .inner_join(roles_$r::table)
            .filter(roles_$r::name.eq(name))
            .select(User$r::as_select())
            .order(user_roles_$r::user_id)
            .load(conn)
    }
}
EOF
}

handwritten() {
  echo '#![allow(missing_docs)]'
  echo 'use diesel::prelude::*;'
  echo 'use users_diesel::Id;'
  for ((i = 0; i < users; i++)); do
    echo "diesel::table! {"
    echo "    use diesel::sql_types::*;"
    echo "    use users_diesel::sql_types::Uuid;"
    echo "    users_$i (id) {"
    echo "        id -> Uuid, email -> Text, password_hash -> Text, is_active -> Bool, is_verified -> Bool,"
    for k in $(fields_of "$i"); do echo "        ${columns[$k]}"; done
    has_timestamps "$i" && echo "        created_at -> Timestamp, updated_at -> Timestamp,"
    echo "    }"
    echo "}"
    echo "#[derive(Queryable, Selectable, Insertable, AsChangeset, Identifiable, Clone, PartialEq)]"
    echo "#[diesel(table_name = users_$i, $check_for_backend)]"
    echo "#[diesel(treat_none_as_null = true)]"
    echo "pub struct User$i {"
    echo "    pub id: Id<User$i>, pub email: String, pub password_hash: String, pub is_active: bool, pub is_verified: bool,"
    for k in $(fields_of "$i"); do echo "    ${hand_fields[$k]}"; done
    has_timestamps "$i" &&
      echo "    #[diesel(skip_update)] pub created_at: chrono::NaiveDateTime, pub updated_at: chrono::NaiveDateTime,"
    echo "}"
    echo "impl std::fmt::Debug for User$i {"
    echo "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {"
    echo "        f.debug_struct(\"User$i\").field(\"id\", &self.id).field(\"email\", &self.email)"
    echo "            .field(\"password_hash\", &\"<redacted>\").field(\"is_active\", &self.is_active)"
    echo "            .field(\"is_verified\", &self.is_verified)"
    for k in $(fields_of "$i"); do
      echo "            .field(\"${field_names[$k]}\", &self.${field_names[$k]})"
    done
    has_timestamps "$i" &&
      echo "            .field(\"created_at\", &self.created_at).field(\"updated_at\", &self.updated_at)"
    echo "            .finish()"
    echo "    }"
    echo "}"
    for backend in "${enabled[@]}"; do hand_user_queries "$i" "$backend"; done
  done
  for ((r = 0; r < roles; r++)); do
    cat <<EOF
diesel::table! {
    use diesel::sql_types::*;
    use users_diesel::sql_types::Uuid;
    roles_$r (id) { id -> Uuid, name -> Text, description -> Nullable<Text>, priority -> Integer, }
}
diesel::table! {
    use users_diesel::sql_types::Uuid;
    user_roles_$r (user_id, role_id) { user_id -> Uuid, role_id -> Uuid, }
}
diesel::joinable!(user_roles_$r -> roles_$r (role_id));
diesel::joinable!(user_roles_$r -> users_$r (user_id));
diesel::allow_tables_to_appear_in_same_query!(users_$r, roles_$r, user_roles_$r);
#[derive(Queryable, Selectable, Insertable, AsChangeset, Identifiable, Clone, PartialEq, Debug)]
#[diesel(table_name = roles_$r, $check_for_backend)]
#[diesel(treat_none_as_null = true)]
pub struct Role$r {
    pub id: Id<Role$r>,
    pub name: String,
    pub description: Option<String>,
    pub priority: i32,
}
#[derive(Queryable, Selectable, Insertable, Identifiable, Associations, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[diesel(table_name = user_roles_$r, primary_key(user_id, role_id))]
#[diesel(belongs_to(User$r, foreign_key = user_id), belongs_to(Role$r, foreign_key = role_id))]
#[diesel($check_for_backend)]
pub struct UserRole$r {
    pub user_id: Id<User$r>,
    pub role_id: Id<Role$r>,
}
EOF
    for backend in "${enabled[@]}"; do hand_role_queries "$r" "$backend"; done
  done
}

mkdir -p "$work/annotated/src" "$work/handwritten/src"
cat >"$work/Cargo.toml" <<EOF
[workspace]
members = ["annotated", "handwritten"]
resolver = "2"
EOF
cp "$repo/Cargo.lock" "$work/Cargo.lock"
crate_manifest annotated >"$work/annotated/Cargo.toml"
crate_manifest handwritten >"$work/handwritten/Cargo.toml"
annotated >"$work/annotated/src/lib.rs"
handwritten >"$work/handwritten/src/lib.rs"
cd "$work"
[[ -n "${GENERATE_ONLY:-}" ]] && exit 0

echo "backends: $backends; $users user models and $roles role models per crate; median of $reps builds"
echo "source lines: annotated $(wc -l <annotated/src/lib.rs), hand-written $(wc -l <handwritten/src/lib.rs)"
echo "building the dependencies once…"
cargo build -q -p annotated -p handwritten

# Seconds to build package $1 from clean, its dependencies already built.
build_time() {
  cargo clean -q -p "$1"
  local start end
  start=$(date +%s.%N)
  cargo build -q -p "$1"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

annotated_times=()
hand_times=()
derive_times=()
for ((rep = 0; rep < reps; rep++)); do
  # Alternate which goes first, so neither always builds on a warmer cache.
  if ((rep % 2 == 0)); then
    annotated_times+=("$(build_time annotated)")
    hand_times+=("$(build_time handwritten)")
  else
    hand_times+=("$(build_time handwritten)")
    annotated_times+=("$(build_time annotated)")
  fi
  derive_times+=("$(build_time users-derive)")
done
cargo build -q -p annotated

annotated_median=$(median "${annotated_times[@]}")
hand_median=$(median "${hand_times[@]}")
derive_median=$(median "${derive_times[@]}")
printf 'annotated (20 models, macros):   %6.2f s   (runs: %s)\n' "$annotated_median" "${annotated_times[*]}"
printf 'hand-written (20 models):        %6.2f s   (runs: %s)\n' "$hand_median" "${hand_times[*]}"
printf 'ratio annotated / hand-written:  %6.2f     (target <= 1.15)\n' \
  "$(echo "$annotated_median / $hand_median" | bc -l)"
printf 'users-derive itself, from clean: %6.2f s   (runs: %s)\n' "$derive_median" "${derive_times[*]}"
