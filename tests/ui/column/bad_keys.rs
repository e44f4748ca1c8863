use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(uniq)]
    pub username: String,
    #[column(unique, index)]
    pub handle: String,
    #[column(max_length = 10)]
    pub age: i32,
    #[column(default = 1, default = 2)]
    pub level: i32,
}

// The model in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let user = User::find_by_email(&mut conn, "ada@example.com").unwrap().unwrap();
    let email: &str = &user.email;
    println!("{email} {:?} {}", user.id, user.is_active);
    let _own = (&user.username, &user.handle, user.age, user.level);
    let _users = Users::<User>::new(UsersConfig::new([7; 32]).unwrap());
}
