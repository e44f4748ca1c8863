use users_diesel::prelude::*;

#[user_model]
pub struct User {}

#[role_model(timestamps, join_table = "roles")]
pub struct Role {}

// The model in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let role = Role::find_by_name(&mut conn, "admin").unwrap().unwrap();
    let name: &str = &role.name;
    let users = Role::users_with_role(&mut conn, name).unwrap();
    println!("{name} {:?} {}", role.id, users.len());
}
