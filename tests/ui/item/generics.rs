use users_diesel::prelude::*;

#[user_model]
pub struct User<T> {
    pub extra: T,
}

fn main() {}
