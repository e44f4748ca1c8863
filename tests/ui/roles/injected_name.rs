use users_diesel::prelude::*;

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {
    pub name: String,
    #[column(name = "description")]
    pub details: Option<String>,
}

// The models in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let role = Role::find_by_name(&mut conn, "admin").unwrap().unwrap();
    let name: &str = &role.name;
    println!("{name} {:?} {:?}", role.id, role.details);
    let _users = Users::<User, Role>::new(UsersConfig::new([7; 32]).unwrap());
}
