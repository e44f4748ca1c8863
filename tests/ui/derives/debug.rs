use users_diesel::prelude::*;

#[user_model]
#[derive(Debug, Clone)]
pub struct User {
    pub display_name: Option<String>,
}

// The model in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let user = User::find_by_email(&mut conn, "ada@example.com").unwrap().unwrap();
    let email: &str = &user.email;
    println!("{email} {:?} {}", user.id, user.is_active);
    println!("{user:?} {:?}", user.clone().display_name);
    let _users = Users::<User>::new(UsersConfig::new([7; 32]).unwrap());
}
