use users_diesel::prelude::*;

#[user_model]
pub struct User<T> {
    pub extra: T,
}

// The model in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let user = User::find_by_email(&mut conn, "ada@example.com").unwrap().unwrap();
    let email: &str = &user.email;
    println!("{email} {:?} {}", user.id, user.is_active);
    let _users = Users::<User>::new(UsersConfig::new([7; 32]).unwrap());
}
