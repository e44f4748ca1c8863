use users_diesel::prelude::*;
use users_diesel::UserEnum;

#[derive(Debug, Clone, PartialEq, UserEnum)]
pub enum Plan {
    Free,
    Paid(u32),
    #[user_enum(rename = "free")]
    Gratis,
}

#[user_model]
pub struct User {
    #[column(default = Plan::Free)]
    pub plan: Plan,
}

// The enum in a model, in use: none of these lines adds an error of its own.
fn main() {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
    let user = User::find_by_email(&mut conn, "ada@example.com").unwrap().unwrap();
    println!("{:?} {:?}", user.plan, [Plan::Free, Plan::Paid(1), Plan::Gratis]);
    let _users = Users::<User>::new(UsersConfig::new([7; 32]).unwrap());
}
