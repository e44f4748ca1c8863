use users_diesel::prelude::*;

// No `User` model in scope, and no `user = …` to name another one.
#[role_model]
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
