use users_diesel::prelude::*;

#[user_model]
pub enum User {
    Admin,
    Member,
}

// The enum in use, as written: the macro adds no error of its own.
fn main() {
    let _user = User::Admin;
}
