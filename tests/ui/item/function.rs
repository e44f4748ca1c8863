use users_diesel::prelude::*;

#[user_model]
pub fn user() {}

// The function in use, as written: the macro adds no error of its own.
fn main() {
    user();
}
